"""Kernel programs: BPF_PROG_LOAD with the verifier's log, and BPF_PROG_TEST_RUN.

:func:`load_program` relocates a ProgramSpec's map references to fds and loads it. It
first loads without a log (the fast path); when the verifier refuses, it loads again
with a log buffer, growing the buffer while the kernel answers ENOSPC (using the size
the kernel reports in ``log_true_size`` when it does), and raises
:class:`~pybpf.errors.VerifierError` with the complete log.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable

from pybpf.engine.link import Link
from pybpf.engine.program import SKB_TEST_RUN_TYPES, Program, RunResult, skb_test_run_refusal
from pybpf.errors import BPFError, PybpfError, VerifierError
from pybpf.isa import SLOT_SIZE, Instruction, decode, encode
from pybpf.kernel import attrs
from pybpf.kernel.btf_targets import attach_btf_id
from pybpf.kernel.fds import get_pinned_fd, pin_fd
from pybpf.kernel.info import fd_by_id, prog_info, prog_xlated, tag_hex
from pybpf.kernel.syscall import ENOTSUPP, Command, bpf, cstring
from pybpf.object import AttachType, ProgramSpec, ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

#: the verifier log buffer the first failing load retries with
LOG_SIZE = 64 * 1024
#: the kernel refuses log buffers at or above this (UINT_MAX >> 2)
LOG_SIZE_MAX = (1 << 30) - 1
#: kernels before 6.4 refuse log buffers smaller than this
LOG_SIZE_MIN = 128


#: program types whose BPF_PROG_TEST_RUN takes only ``ctx`` (the tracepoint's arguments)
_CONTEXT_ONLY_RUNS = {ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE}


class KernelProgram(Program):
    """A program loaded in the kernel, reached through its file descriptor ``fd``."""

    engine = "kernel"

    def __init__(self, spec: ProgramSpec, fd: int, log: str = ""):
        super().__init__(spec)
        self.fd = fd
        #: the verifier log of a load that asked for one (log_level > 0)
        self.log = log
        #: what :meth:`attach` made; closed with the program
        self.attachments: list[Link] = []
        #: the collection's ``__bpf_usdt_specs`` map where the program reads USDT arguments
        #: through <bpf/usdt.bpf.h> (attaching it to a USDT probe fills it)
        self.usdt_specs: Any = None
        self._target = f"program {spec.name!r}"

    def _test_run(self, data: bytes, ctx: bytes | None, repeat: int, data_out_size: int,
                  ctx_out_size: int, flags: int, cpu: int) -> RunResult:
        if self.type in _CONTEXT_ONLY_RUNS:
            # the kernel runs raw tracepoint programs once, on a context alone, and
            # refuses a repeat count or output buffers
            repeat, data_out_size, ctx_out_size = 0, 0, 0
        data_in = ctypes.create_string_buffer(data, len(data))
        data_out = ctypes.create_string_buffer(data_out_size)
        ctx_in = ctypes.create_string_buffer(ctx, len(ctx)) if ctx else None
        ctx_out = ctypes.create_string_buffer(ctx_out_size) if ctx_out_size else None
        attr = attrs.TestRunAttr(
            prog_fd=self.fd, data_size_in=len(data), data_size_out=data_out_size,
            data_in=ctypes.addressof(data_in) if data else 0,
            data_out=ctypes.addressof(data_out) if data_out_size else 0, repeat=repeat,
            ctx_size_in=len(ctx) if ctx else 0, ctx_size_out=ctx_out_size,
            ctx_in=ctypes.addressof(ctx_in) if ctx_in is not None else 0,
            ctx_out=ctypes.addressof(ctx_out) if ctx_out is not None else 0,
            flags=flags, cpu=cpu)
        refusal = skb_test_run_refusal(data) if self.type in SKB_TEST_RUN_TYPES else ""
        bpf(Command.PROG_TEST_RUN, attr, self._target, {
            ENOTSUPP: f"the kernel cannot test-run {self.type} programs",
            errno.ENOSPC: "the program's output is larger than data_out_size/ctx_out_size",
            **({errno.EINVAL: refusal} if refusal else {}),
        })
        return RunResult(
            retval=attr.retval,
            data_out=data_out.raw[:min(attr.data_size_out, data_out_size)],
            ctx_out=ctx_out.raw[:min(attr.ctx_size_out, ctx_out_size)] if ctx_out else b"",
            duration_ns=attr.duration)

    @property
    def id(self) -> int:
        """The kernel's id for this program."""
        return prog_info(self.fd).id

    @property
    def tag(self) -> str:
        """The program tag (a hash of its instructions), as bpftool prints it."""
        return tag_hex(prog_info(self.fd))

    def info(self) -> attrs.ProgInfo:
        """struct bpf_prog_info now (run_cnt/run_time_ns count while stats are on)."""
        return prog_info(self.fd)

    def xlated(self) -> list[Instruction]:
        """The instructions as the kernel holds them after verification and rewriting
        (map fds become map ids; context accesses are converted)."""
        return decode(prog_xlated(self.fd), strict=False)

    def pin(self, path: str) -> None:
        """Pin the program at ``path`` on a BPF filesystem."""
        pin_fd(self.fd, path, self._target)

    def unpin(self, path: str) -> None:
        """Remove the pin at ``path``."""
        os.unlink(path)

    def attach(self, target: str | None = None, **options: Any) -> Link:
        """Attach to ``target`` (a bpftrace-style probe name such as
        ``tracepoint:sched:sched_process_exec``) or, without one, where the section name
        says; returns the :class:`~pybpf.engine.link.Link` (close it, or use ``with``, to
        detach). See :func:`pybpf.kernel.attach.attach` for targets and options."""
        from pybpf.kernel.attach import attach  # attach builds on this module

        return attach(self, target, **options)

    def bind_map(self, map_fd: int) -> None:
        """Keep a map alive with the program although no instruction refers to it."""
        bpf(Command.PROG_BIND_MAP, attrs.ProgBindMapAttr(prog_fd=self.fd, map_fd=map_fd),
            self._target)

    def _close(self) -> None:
        # detach first: an attachment holds the program, and would outlive it otherwise
        while self.attachments:
            attachment = self.attachments.pop()
            if not getattr(attachment, "closed", False):
                attachment.close()
        os.close(self.fd)

def _load_attr(spec: ProgramSpec, code: ctypes.Array, license: ctypes.Array,
               btf_fd: int, keep: list[ctypes.Array]) -> attrs.ProgLoadAttr:
    """The BPF_PROG_LOAD attributes; buffers they point to are appended to ``keep``."""
    attr = attrs.ProgLoadAttr(
        prog_type=spec.type, insn_cnt=len(code) // SLOT_SIZE,
        insns=ctypes.addressof(code), license=ctypes.addressof(license),
        prog_name=spec.name.encode()[:15])   # the kernel keeps 15 bytes, as libbpf cuts
    if spec.expected_attach_type is not None:
        attr.expected_attach_type = spec.expected_attach_type
    attr.attach_btf_id = attach_btf_id(spec)
    if spec.btf is not None and btf_fd:
        info = spec.btf
        attr.prog_btf_fd = btf_fd
        for field, data, rec_size in (("func_info", info.func_info, info.func_info_rec_size),
                                      ("line_info", info.line_info, info.line_info_rec_size)):
            if data:
                buf = ctypes.create_string_buffer(data, len(data))
                keep.append(buf)
                setattr(attr, field, ctypes.addressof(buf))
                setattr(attr, f"{field}_rec_size", rec_size)
                setattr(attr, f"{field}_cnt", len(data) // rec_size)
    return attr


def _load_with_log(attr: attrs.ProgLoadAttr, target: str, log_level: int,
                   log_size: int, hints: dict[int, str], grow: bool = True) -> tuple[int, str]:
    """Load with a verifier log, growing the buffer until the whole log fits (unless not
    ``grow``: then the kernel's ENOSPC for a log larger than ``log_size`` is the answer)."""
    size = max(log_size, LOG_SIZE_MIN) if grow else log_size
    while True:
        buf = ctypes.create_string_buffer(size)
        attr.log_level, attr.log_size, attr.log_buf = log_level, size, ctypes.addressof(buf)
        attr.log_true_size = 0
        try:
            fd = bpf(Command.PROG_LOAD, attr, target, hints)
            return fd, buf.value.decode(errors="replace")
        except BPFError as exc:
            if exc.errno == errno.ENOSPC and grow and size < LOG_SIZE_MAX:
                wanted = attr.log_true_size if attr.log_true_size > size else size * 4
                size = min(wanted, LOG_SIZE_MAX)
                continue
            log = buf.value.decode(errors="replace")
            if log:
                raise VerifierError(exc.command, exc.errno, log, target) from None
            raise


def load_program(spec: ProgramSpec, resolve: Callable[[str], int] | None = None,
                 log_level: int = 0, log_size: int = LOG_SIZE,
                 btf_fd: int = 0, grow_log: bool = True) -> KernelProgram:
    """Load ``spec``; ``resolve`` maps a referenced map name to its fd.

    ``log_level`` > 0 asks for the verifier log even on success (kept as ``.log``).
    ``log_size`` is the first log buffer size; it grows as needed, unless ``grow_log`` is
    false (a fixed buffer, as bpftrace's BPFTRACE_LOG_SIZE: too small a one is refused
    with ENOSPC).
    """
    spec.check()
    if spec.references and resolve is None:
        raise BPFError("BPF_PROG_LOAD", errno.EINVAL, "the program refers to maps "
                       f"{sorted(set(spec.references.values()))} but none were given",
                       f"program {spec.name!r}")
    instructions = spec.relocated(resolve) if resolve else spec.instructions
    raw = encode(instructions)
    code = ctypes.create_string_buffer(raw, len(raw))
    license = cstring(spec.license.encode())
    keep: list[ctypes.Array] = []
    attr = _load_attr(spec, code, license, btf_fd, keep)
    target = f"program {spec.name!r} ({spec.type})"
    attach = (f", expected attach type {spec.expected_attach_type}"
              if spec.expected_attach_type is not None else "")
    hints = {errno.EINVAL: f"the kernel refused the program before verifying it (type "
                           f"{spec.type}{attach}, license {spec.license!r}): this type may "
                           "need an expected attach type or attach target"}
    if _uses_trampoline(spec) and os.geteuid() == 0:
        hints[errno.EPERM] = trampoline_refusal(spec)
    if not log_level:
        try:
            return KernelProgram(spec, bpf(Command.PROG_LOAD, attr, target, hints))
        except BPFError:
            pass    # any refusal (EACCES, EINVAL, E2BIG, ...): the verifier's log says why
        log_level = 1  # refused: load again, this time for the verifier's reasons
    try:
        fd, log = _load_with_log(attr, target, log_level, log_size, hints, grow_log)
    except VerifierError as exc:
        # name the C line (and any failed CO-RE relocation) the verifier stopped at
        raise exc.explained(spec.explain) from None
    return KernelProgram(spec, fd, log)


_TRAMPOLINE_ATTACH = {AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN}


def _uses_trampoline(spec: ProgramSpec) -> bool:
    """fentry/fexit/fmod_ret, LSM and freplace programs run through BPF trampolines."""
    return spec.type in (ProgramType.LSM, ProgramType.EXT) or (
        spec.type == ProgramType.TRACING and spec.expected_attach_type in _TRAMPOLINE_ATTACH)


def trampoline_refusal(spec: ProgramSpec) -> str:
    """Why root was refused a trampoline program, and the tracepoint to use instead."""
    kind = {ProgramType.LSM: "LSM", ProgramType.EXT: "freplace"}.get(spec.type) or {
        AttachType.TRACE_FENTRY: "fentry", AttachType.TRACE_FEXIT: "fexit",
        AttachType.MODIFY_RETURN: "fmod_ret"}[spec.expected_attach_type]
    function = spec.attach_to.rpartition("/")[2]
    try:
        from pybpf.tracefs import Tracefs

        suggestion = Tracefs().tracepoint_for_function(function) if function else None
    except PybpfError:
        suggestion = None
    instead = (f"attach to tracepoint:{suggestion} instead" if suggestion else
               "use a tracepoint or raw tracepoint instead (pybpf probe lists what this kernel allows)")
    return (f"this kernel refuses {kind} programs even to root: BPF trampolines (fentry/fexit/LSM) are "
            f"not available here (kernel built without them, or locked down); {instead}")


def _adopt(fd: int) -> KernelProgram:
    try:
        info = prog_info(fd)
        spec = ProgramSpec(name=info.name.decode(errors="replace"),
                           type=ProgramType(info.type), instructions=[])
        return KernelProgram(spec, fd)
    except BaseException:
        os.close(fd)
        raise


def open_pinned_program(path: str) -> KernelProgram:
    """The program pinned at ``path`` (its spec has the name and type, no instructions)."""
    return _adopt(get_pinned_fd(path))


def open_program_by_id(prog_id: int) -> KernelProgram:
    """The loaded program with id ``prog_id``."""
    return _adopt(fd_by_id("prog", prog_id))


class Stats:
    """Run-time statistics switched on while this object is open (BPF_ENABLE_STATS).

    With stats on, every program's info reports ``run_cnt`` and ``run_time_ns``; the
    kernel turns them off again when the last such fd closes.
    """

    def __init__(self) -> None:
        self.fd = bpf(Command.ENABLE_STATS, attrs.EnableStatsAttr(type=0), "run-time stats")

    def close(self) -> None:
        """Stop asking for statistics (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Stats:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
