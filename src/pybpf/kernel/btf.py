"""BPF_BTF_LOAD: hand raw BTF to the kernel, with its log when it is refused."""

from __future__ import annotations

import ctypes
import errno

from pybpf.errors import BPFError
from pybpf.kernel import attrs
from pybpf.kernel.syscall import Command, bpf

_LOG_SIZE = 64 * 1024


def load_btf(data: bytes) -> int:
    """Load ``data`` (a BTF blob: header, types, strings) and return its fd.

    A refusal is retried once with a log so the BPFError can say what the kernel
    disliked (the last log line names the bad type).
    """
    blob = ctypes.create_string_buffer(data, len(data))
    attr = attrs.BtfLoadAttr(btf=ctypes.addressof(blob), btf_size=len(data))
    try:
        return bpf(Command.BTF_LOAD, attr, "BTF")
    except BPFError as exc:
        if exc.errno not in (errno.EINVAL, errno.EACCES, errno.E2BIG):
            raise
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attr.btf_log_buf, attr.btf_log_size, attr.btf_log_level = ctypes.addressof(log), _LOG_SIZE, 1
    try:
        return bpf(Command.BTF_LOAD, attr, "BTF")
    except BPFError as exc:
        lines = log.value.decode(errors="replace").strip().splitlines()
        raise BPFError(exc.command, exc.errno, lines[-1] if lines else exc.hint,
                       "BTF") from None

