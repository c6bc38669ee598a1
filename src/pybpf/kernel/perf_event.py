"""perf events: the kernel's hooks for tracepoints, uprobes, kprobes, software and
hardware counters, and the carrier BPF tracing programs attach to.

``perf_event_open(2)`` is called through ctypes with the ``struct perf_event_attr``
layout of include/uapi/linux/perf_event.h. A :class:`PerfEvent` owns its file
descriptor (context manager; closed exactly once) and offers what attaching needs:
enable/disable, reading the count, ``PERF_EVENT_IOC_SET_BPF``. Refusals become a
:class:`PerfEventError` that says which event and what to do — notably, on kernels
without kprobes, which tracepoint covers the same event.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import struct
from pathlib import Path

from pybpf.errors import PybpfError

_SYSCALL_NR = {"x86_64": 298, "aarch64": 241}

# perf_type_id
TYPE_HARDWARE = 0
TYPE_SOFTWARE = 1
TYPE_TRACEPOINT = 2
TYPE_HW_CACHE = 3
TYPE_RAW = 4
TYPE_BREAKPOINT = 5

#: perf_sw_ids, by the names perf(1) and bpftrace use
SOFTWARE_EVENTS = {
    "cpu-clock": 0, "task-clock": 1, "page-faults": 2, "context-switches": 3,
    "cpu-migrations": 4, "minor-faults": 5, "major-faults": 6, "alignment-faults": 7,
    "emulation-faults": 8, "dummy": 9, "bpf-output": 10, "cgroup-switches": 11,
}
#: perf_hw_id
HARDWARE_EVENTS = {
    "cpu-cycles": 0, "instructions": 1, "cache-references": 2, "cache-misses": 3,
    "branch-instructions": 4, "branch-misses": 5, "bus-cycles": 6,
    "stalled-cycles-frontend": 7, "stalled-cycles-backend": 8, "ref-cycles": 9,
}
_EVENT_ALIASES = {"cycles": "cpu-cycles", "branches": "branch-instructions", "faults": "page-faults",
                  "cs": "context-switches", "migrations": "cpu-migrations"}

# perf_event_sample_format bits
SAMPLE_IP = 1 << 0
SAMPLE_TID = 1 << 1
SAMPLE_TIME = 1 << 2
SAMPLE_ADDR = 1 << 3
SAMPLE_CALLCHAIN = 1 << 5
SAMPLE_ID = 1 << 6
SAMPLE_CPU = 1 << 7
SAMPLE_PERIOD = 1 << 8
SAMPLE_RAW = 1 << 10

# bits of the attr's flag word
FLAG_DISABLED = 1 << 0
FLAG_INHERIT = 1 << 1
FLAG_EXCLUDE_USER = 1 << 4
FLAG_EXCLUDE_KERNEL = 1 << 5
FLAG_FREQ = 1 << 10
FLAG_WATERMARK = 1 << 14

PERF_FLAG_FD_CLOEXEC = 1 << 3

# ioctls: _IO('$', n) and friends
IOC_ENABLE = 0x2400
IOC_DISABLE = 0x2401
IOC_RESET = 0x2403
IOC_SET_BPF = 0x40042408

_EVENT_SOURCES = Path("/sys/bus/event_source/devices")


class PerfEventError(PybpfError):
    """perf_event_open or an ioctl on a perf event was refused; says which and why."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_


class PerfEventAttr(ctypes.Structure):
    """``struct perf_event_attr`` (PERF_ATTR_SIZE_VER8, 136 bytes)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),   # or sample_freq with FLAG_FREQ
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),   # or wakeup_watermark with FLAG_WATERMARK
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),         # uprobe_path / kprobe_func / bp_addr
        ("config2", ctypes.c_uint64),         # probe_offset / kprobe_addr / bp_len
        ("branch_sample_type", ctypes.c_uint64),
        ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("reserved_2", ctypes.c_uint16),
        ("aux_sample_size", ctypes.c_uint32),
        ("reserved_3", ctypes.c_uint32),
        ("sig_data", ctypes.c_uint64),
        ("config3", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def online_cpus() -> list[int]:
    """The CPUs perf events and per-CPU buffers are opened on (from sysfs's range list)."""
    text = Path("/sys/devices/system/cpu/online").read_text().strip()
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def pmu_type(name: str) -> int:
    """The dynamic PMU type number of ``name`` (uprobe, kprobe, ...) from sysfs."""
    path = _EVENT_SOURCES / name / "type"
    try:
        return int(path.read_text())
    except FileNotFoundError:
        raise PerfEventError(f"this kernel has no {name} PMU ({path} is absent)", errno.ENOENT) from None


def pmu_format_shift(name: str, field: str) -> int:
    """Where ``field`` sits in ``config`` for PMU ``name`` (``config:32-63`` → 32)."""
    path = _EVENT_SOURCES / name / "format" / field
    try:
        spec = path.read_text().strip()
    except FileNotFoundError:
        raise PerfEventError(f"the {name} PMU has no {field} field ({path} is absent)", errno.ENOENT) from None
    config, _, bits = spec.partition(":")
    if config != "config":
        raise PerfEventError(f"{path}: expected config:BITS, got {spec!r}")
    return int(bits.split("-")[0])


class PerfEvent:
    """One open perf event; closes its fd on :meth:`close` or leaving a ``with``."""

    def __init__(self, attr: PerfEventAttr, *, pid: int = -1, cpu: int = 0, group_fd: int = -1,
                 description: str = "perf event") -> None:
        self.description = description
        self.attr = attr
        attr.size = ctypes.sizeof(PerfEventAttr)
        nr = _SYSCALL_NR.get(platform.machine())
        if nr is None:
            raise PerfEventError(f"perf_event_open: unsupported architecture {platform.machine()}")
        fd = _libc.syscall(nr, ctypes.byref(attr), pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise PerfEventError(f"cannot open {description}{_where(pid, cpu)}: {_explain(err, attr)}", err)
        self.fd: int | None = fd

    # --- constructors for the kinds of event users ask for ---------------------------

    @classmethod
    def software(cls, name: str, *, pid: int = -1, cpu: int = 0, sample_period: int = 0,
                 sample_freq: int = 0, sample_type: int = 0, disabled: bool = False,
                 wakeup_events: int = 1) -> PerfEvent:
        """A software event by perf's name (``cpu-clock``, ``page-faults``, ...)."""
        name = _EVENT_ALIASES.get(name, name)
        if name not in SOFTWARE_EVENTS:
            raise PerfEventError(f"unknown software event {name!r} (known: {', '.join(SOFTWARE_EVENTS)})")
        attr = _sampling_attr(TYPE_SOFTWARE, SOFTWARE_EVENTS[name], sample_period, sample_freq,
                              sample_type, disabled, wakeup_events)
        return cls(attr, pid=pid, cpu=cpu, description=f"software event {name}")

    @classmethod
    def named(cls, name: str, **options: int) -> PerfEvent:
        """A software or hardware event by perf's name, whichever it is."""
        full = _EVENT_ALIASES.get(name, name)
        return (cls.software if full in SOFTWARE_EVENTS else cls.hardware)(full, **options)

    @classmethod
    def hardware(cls, name: str, *, pid: int = -1, cpu: int = 0, sample_period: int = 0,
                 sample_freq: int = 0, sample_type: int = 0, disabled: bool = False) -> PerfEvent:
        """A hardware counter (``cpu-cycles``, ``instructions``, ...) where the CPU has a PMU."""
        name = _EVENT_ALIASES.get(name, name)
        if name not in HARDWARE_EVENTS:
            raise PerfEventError(f"unknown hardware event {name!r} (known: {', '.join(HARDWARE_EVENTS)})")
        attr = _sampling_attr(TYPE_HARDWARE, HARDWARE_EVENTS[name], sample_period, sample_freq,
                              sample_type, disabled, 1)
        return cls(attr, pid=pid, cpu=cpu, description=f"hardware event {name}")

    @classmethod
    def tracepoint(cls, event_id: int, *, name: str = "", pid: int = -1, cpu: int = 0,
                   sample_type: int = SAMPLE_RAW, disabled: bool = False) -> PerfEvent:
        """A tracepoint by its tracefs id (every hit is a sample)."""
        attr = _sampling_attr(TYPE_TRACEPOINT, event_id, 1, 0, sample_type, disabled, 1)
        return cls(attr, pid=pid, cpu=cpu, description=f"tracepoint {name or event_id}")

    @classmethod
    def uprobe(cls, path: str, offset: int, *, retprobe: bool = False, pid: int = -1, cpu: int = -1,
               ref_ctr_offset: int = 0, sample_type: int = 0, disabled: bool = False) -> PerfEvent:
        """A uprobe (or uretprobe) at file ``offset`` of ``path``; ``ref_ctr_offset`` is the
        file offset of a USDT semaphore the kernel counts up while the probe exists.
        ``cpu=-1`` with a pid follows that process; ``pid=-1`` needs a cpu per event."""
        config = 0
        if retprobe:
            config |= 1 << pmu_format_shift("uprobe", "retprobe")
        if ref_ctr_offset:
            config |= ref_ctr_offset << pmu_format_shift("uprobe", "ref_ctr_offset")
        encoded = ctypes.create_string_buffer(os.fsencode(path))
        attr = _sampling_attr(pmu_type("uprobe"), config, 1, 0, sample_type, disabled, 1)
        attr.config1 = ctypes.addressof(encoded)
        attr.config2 = offset
        kind = "uretprobe" if retprobe else "uprobe"
        return cls(attr, pid=pid, cpu=cpu, description=f"{kind} {path}+0x{offset:x}")

    @classmethod
    def breakpoint(cls, address: int, length: int, access: int, *, pid: int = -1, cpu: int = -1) -> PerfEvent:
        """A hardware breakpoint (watchpoint) on ``length`` bytes at ``address``: every
        access of kind ``access`` (HW_BREAKPOINT_R=1 | W=2, or X=4) is a sample."""
        attr = _sampling_attr(TYPE_BREAKPOINT, 0, 1, 0, 0, False, 1)
        attr.bp_type, attr.config1, attr.config2 = access, address, length
        return cls(attr, pid=pid, cpu=cpu, description=f"watchpoint on {length} bytes at 0x{address:x}")

    @classmethod
    def kprobe(cls, function: str, *, offset: int = 0, retprobe: bool = False, cpu: int = 0,
               suggestion: str | None = None) -> PerfEvent:
        """A kprobe on kernel ``function`` through the kprobe PMU. On kernels built
        without kprobes the error says so and names ``suggestion`` (the tracepoint that
        covers the same event) when the caller found one."""
        kind = "kretprobe" if retprobe else "kprobe"
        try:
            pmu = pmu_type("kprobe")
        except PerfEventError:
            hint = f"; attach to tracepoint:{suggestion} instead" if suggestion else \
                "; use a tracepoint instead (pybpf probe lists them)"
            raise PerfEventError(
                f"cannot attach {kind} to {function}: this kernel has no kprobes "
                f"(built without CONFIG_KPROBES: no kprobe PMU in {_EVENT_SOURCES}){hint}",
                errno.ENOENT,
            ) from None
        config = 1 << pmu_format_shift("kprobe", "retprobe") if retprobe else 0
        encoded = ctypes.create_string_buffer(function.encode())
        attr = _sampling_attr(pmu, config, 1, 0, 0, False, 1)
        attr.config1 = ctypes.addressof(encoded)
        attr.config2 = offset
        return cls(attr, pid=-1, cpu=cpu, description=f"{kind} {function}")

    # --- operations ------------------------------------------------------------------

    def _ioctl(self, request: int, arg: int = 0, what: str = "") -> None:
        try:
            fcntl.ioctl(self._fd(), request, arg)
        except OSError as exc:
            raise PerfEventError(f"{what} on {self.description} failed: {exc.strerror}", exc.errno) from None

    def enable(self) -> None:
        """Start counting / delivering samples."""
        self._ioctl(IOC_ENABLE, what="enable")

    def disable(self) -> None:
        """Stop counting / delivering samples."""
        self._ioctl(IOC_DISABLE, what="disable")

    def reset(self) -> None:
        """Zero the count."""
        self._ioctl(IOC_RESET, what="reset")

    def set_bpf(self, prog_fd: int) -> None:
        """Run BPF program ``prog_fd`` on every hit (the pre-BPF-link way to attach)."""
        self._ioctl(IOC_SET_BPF, prog_fd, what="attaching a BPF program (PERF_EVENT_IOC_SET_BPF)")

    def read_count(self) -> int:
        """The counter's value (``read_format`` 0: one u64)."""
        return struct.unpack("<Q", os.read(self._fd(), 8))[0]

    def fileno(self) -> int:
        """The fd, for poll/select and for BPF link creation."""
        return self._fd()

    def _fd(self) -> int:
        if self.fd is None:
            raise PerfEventError(f"{self.description} is closed")
        return self.fd

    def close(self) -> None:
        """Close the fd (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> PerfEvent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a safety net; owners close explicitly
        if getattr(self, "fd", None) is not None:
            self.close()


def _sampling_attr(type_: int, config: int, period: int, freq: int, sample_type: int,
                   disabled: bool, wakeup_events: int) -> PerfEventAttr:
    attr = PerfEventAttr(type=type_, config=config, sample_type=sample_type, wakeup_events=wakeup_events)
    if freq:
        attr.sample_period = freq
        attr.flags |= FLAG_FREQ
    else:
        attr.sample_period = period
    if disabled:
        attr.flags |= FLAG_DISABLED
    return attr


def _where(pid: int, cpu: int) -> str:
    parts = ([f"pid {pid}"] if pid != -1 else []) + ([f"cpu {cpu}"] if cpu != -1 else [])
    return f" ({', '.join(parts)})" if parts else ""


def _explain(err: int, attr: PerfEventAttr) -> str:
    name = errno.errorcode.get(err, str(err))
    if err in (errno.EACCES, errno.EPERM):
        paranoid = _read_int("/proc/sys/kernel/perf_event_paranoid")
        return (f"{name}: not permitted (run as root or with CAP_PERFMON; "
                f"kernel.perf_event_paranoid is {paranoid})")
    if err == errno.ENOENT and attr.type == TYPE_HARDWARE:
        return f"{name}: this CPU exposes no hardware counters (a virtual machine?); use a software event such as cpu-clock"
    if err == errno.ENOENT:
        return f"{name}: no such event on this kernel"
    if err == errno.ESRCH:
        return f"{name}: no such process"
    if err == errno.EINVAL:
        return f"{name}: the kernel rejected the event's parameters (type {attr.type}, config 0x{attr.config:x})"
    if err == errno.EMFILE:
        return f"{name}: too many open files (raise the fd limit: ulimit -n)"
    return f"{name}: {os.strerror(err)}"


def _read_int(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "unknown"
