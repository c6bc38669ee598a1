"""The probe reads of tracing programs: bpf_probe_read_user/kernel, their ``_str`` forms,
and the legacy bpf_probe_read/bpf_probe_read_str. In the vm every address is vm memory,
so the user and kernel forms are the same copy."""

from __future__ import annotations

import errno

from pybpf.vm.errors import VMError
from pybpf.vm.helpers.operands import charge_copy, errno_result
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("probe reads")


def _probe_read(vm: Any, dst: int, size: int, src: int, string: bool) -> int:
    """bpf_probe_read_*: copy from any vm memory; a fault gives -EFAULT and a zeroed buffer.

    ``size`` is a u32, as the helper's prototype says, and the destination must hold it
    (checked before anything is read or allocated: the kernel's verifier guarantees it).
    The ``_str`` forms copy up to ``size - 1`` bytes and a NUL, stopping after the source's
    NUL, and return the bytes written including the NUL — a longer source is cut, as in
    the kernel, not refused."""
    if dst is None or size is None or src is None:
        raise TypeError("an argument register is not written")   # reported as an uninitialised register
    size &= 0xFFFF_FFFF
    vm.memory.check(dst, size, True)
    if string and size == 0:
        return 0
    charge_copy(vm, size)
    try:
        data = _read_string(vm, src, size) if string else vm.memory.read_bytes(src, size)
    except VMError:
        vm.memory.write_bytes(dst, bytes(size))
        return errno_result(-errno.EFAULT)
    vm.memory.write_bytes(dst, data)
    return len(data) if string else 0


def _read_string(vm: Any, src: int, size: int) -> bytes:
    """What a ``_str`` probe read copies: the source up to its NUL, at most ``size - 1``
    bytes, then a NUL (VMError when the source ends before either)."""
    try:
        raw = vm.memory.read_bytes(src, size - 1)
    except VMError:                 # the region ends first: the string must end inside it
        return vm.memory.read_string(src, size) + b"\0"
    end = raw.find(b"\0")
    return raw[:end + 1] if end >= 0 else raw + b"\0"


@FAMILY.helper("bpf_probe_read")
@FAMILY.helper("bpf_probe_read_user")
@FAMILY.helper("bpf_probe_read_kernel")
def probe_read(vm: Any, dst: int, size: int, src: int, *_: int) -> int:
    return _probe_read(vm, dst, size, src, False)


@FAMILY.helper("bpf_probe_read_str")
@FAMILY.helper("bpf_probe_read_user_str")
@FAMILY.helper("bpf_probe_read_kernel_str")
def probe_read_str(vm: Any, dst: int, size: int, src: int, *_: int) -> int:
    return _probe_read(vm, dst, size, src, True)
