"""``BPF``: BCC's program object on pybpf — compile the translated C with pybpf's clang,
create the maps, load each function when it is attached (as BCC's ``load_func`` does),
attach by name, and read tables, trace_pipe and perf/ring buffers.

Where the kernel has no kprobes, a kprobe on a syscall's entry function runs the
function's ``__bcc_enter`` entry point on ``syscalls:sys_enter_<name>`` (a kretprobe its
``__bcc_exit`` one on ``sys_exit_<name>``), which read the syscall's arguments and return
value where the program's ``PT_REGS_*`` and extra parameters expect them.
"""

from __future__ import annotations

import atexit
import ctypes
import difflib
import errno
import os
import re
import select
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from pybpf.bcc.ctypes_btf import ctype_of
from pybpf.bcc.kernel_reads import rewrite_kernel_reads
from pybpf.bcc.prelude import PRELUDE, kernel_constants, kernel_inlines, tracepoint_struct
from pybpf.bcc.preprocess import preprocess
from pybpf.bcc.shared_tables import load_tables
from pybpf.bcc.table import BpfStackBuildId, EventTable, Table, TableError, table_class
from pybpf.bcc.translate import Translation, translate
from pybpf.bcc.usdt import usdt_prelude
from pybpf.btf import BTF, Kind
from pybpf.errors import BPFError, PybpfError
from pybpf.object.kinds import ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_SYSCALL_PREFIXES = ("__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__se_sys_", "__do_sys_", "ksys_", "sys_")


class BccError(PybpfError):
    """A BCC operation pybpf cannot do: what and why."""


class Function:
    """A loaded function, as BCC's ``BPF.Function``: ``name`` (bytes), ``fd``, ``bpf``;
    ``sock`` after attach_raw_socket."""

    def __init__(self, bpf: BPF, name: bytes, program: Any) -> None:
        self.bpf = bpf
        self.name = name
        self.program = program
        self.fd: int = program.fd

    def close(self) -> None:
        self.program.close()

    def __repr__(self) -> str:
        return f"<bcc Function {self.name.decode()} fd={self.fd}>"


def _read_source(name: str | bytes) -> str:
    """The text of a ``src_file``: the path as given, or else, as BCC's
    ``_find_file``, beside the script (``sys.argv[0]``) — examples such as vfsreadlat.py
    name their ``.c`` file without a directory and are run from anywhere."""
    path = Path(os.fsdecode(name))
    beside = Path(os.path.abspath(os.path.dirname(sys.argv[0] if sys.argv else ""))) / path
    found = path if path.is_file() or path.is_absolute() or not beside.is_file() else beside
    try:
        return found.read_text()
    except OSError as exc:
        raise BccError(f"src_file {path}: {exc.strerror} (looked in the working directory and beside "
                       f"{sys.argv[0] if sys.argv else 'the script'})") from None


class BPF:
    """BCC's ``BPF`` class: ``BPF(text=...)`` or ``BPF(src_file=...)``."""

    Function = Function
    SOCKET_FILTER, KPROBE, SCHED_CLS, SCHED_ACT, TRACEPOINT, XDP, PERF_EVENT = 1, 2, 3, 4, 5, 6, 7
    CGROUP_SKB, CGROUP_SOCK, LWT_IN, LWT_OUT, LWT_XMIT, SOCK_OPS, SK_SKB = 8, 9, 10, 11, 12, 13, 14
    CGROUP_DEVICE, SK_MSG, RAW_TRACEPOINT, CGROUP_SOCK_ADDR = 15, 16, 17, 18
    TRACING, LSM = 26, 29
    XDP_FLAGS_UPDATE_IF_NOEXIST, XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE = 1, 2, 4, 8
    XDP_FLAGS_REPLACE = 16
    # perf event types/configs, as bcc.PerfType/PerfSWConfig
    _open_kprobes = 0

    def __init__(self, src_file: str | bytes = b"", hdr_file: str | bytes = b"", text: str | bytes | None = None,
                 debug: int = 0, cflags: Sequence[str] = (), usdt_contexts: Sequence[Any] = (),
                 allow_rlimit: bool = True, device: Any = None, attach_usdt_ignore_pid: bool = False) -> None:
        self.debug = debug
        self._collection: Any = None
        self.funcs: dict[str, Any] = {}
        self.tables: dict[str, Table] = {}
        self._links: dict[tuple[str, str], Any] = {}
        self._perf_buffers: dict[str, Any] = {}
        self._ring_buffers: dict[str, Any] = {}
        self._poller: Any = None
        self._trace: Any = None
        self._trace_buffer = bytearray()
        self._usdt = list(usdt_contexts)
        if text is None:
            if not os.fsdecode(src_file):
                raise BccError("BPF() needs text= or src_file=")
            text = _read_source(src_file)
        text = text.decode() if isinstance(text, bytes) else text
        compiled = compile_program(text, [os.fsdecode(f) for f in cflags], self._usdt,
                                   show=bool(debug & 0x4 or os.environ.get("PYBPF_BCC_SHOW_SOURCE")))
        self.translation: Translation = compiled.translation
        self.source = compiled.source
        self._program_specs = compiled.spec.programs
        self._map_specs = compiled.spec.maps
        self._btf = compiled.btf
        self._collection = load_tables(self.translation, compiled.spec.maps)
        atexit.register(self.cleanup)   # BCC detaches everything at exit, cleanup() or not
        for context in self._usdt:
            context._attach(self)
        self._auto_attach()

    @property
    def module(self) -> BPF:
        """What BCC scripts pass to ``bcc.lib`` functions as the program
        (``lib.bpf_table_fd(b.module, name)``): the BPF object itself."""
        return self

    # -- loading ---------------------------------------------------------------------------
    def load_func(self, func_name: str | bytes, prog_type: int, device: Any = None,
                  attach_type: int = -1) -> Any:
        """The function loaded as a program of ``prog_type`` (a ``BPF.SCHED_CLS``... —
        the kernel's enum bpf_prog_type), expecting ``attach_type`` when one is given (the
        cgroup address hooks need it); loaded once per type."""
        return self._load_entry(os.fsdecode(func_name), "", prog_type, attach_type)

    def _load_entry(self, name: str, form: str, prog_type: int = 5, attach_type: int = -1) -> Any:
        from pybpf.kernel.programs import load_program
        from pybpf.object import AttachType

        key = f"{name}{form}/{prog_type}/{attach_type}"
        if key in self.funcs:
            return self.funcs[key]
        spec = self._program_specs[self._symbol(name, form)]
        try:
            kind = ProgramType(prog_type)
            expected = AttachType(attach_type) if attach_type >= 0 else None
        except ValueError:
            raise BccError(f"load_func({name!r}): unknown program type {prog_type} or attach type {attach_type}") \
                from None
        if spec.type != kind or expected is not None:
            spec = spec.copy(type=kind, expected_attach_type=expected)
        maps = self._collection.maps
        program = load_program(spec.copy(btf=None), lambda m: maps[m].fd, log_level=1 if self.debug & 0x8 else 0)
        function = Function(self, name.encode(), program)
        self.funcs[key] = function
        return function

    def _symbol(self, name: str, form: str = "") -> str:
        """The C name of function ``name``'s entry point (``form``: "", "_enter", "_exit")."""
        function = self.translation.functions.get(name)
        if function is None:
            known = list(self.translation.functions)
            close = difflib.get_close_matches(name, known, n=3)
            raise BccError(f"no function {name!r} in the BPF program"
                           + (f"; did you mean {', '.join(close)}?" if close else f" (functions: {', '.join(known)})"))
        return function.symbol + form

    def _auto_attach(self) -> None:
        for name, function in self.translation.functions.items():
            if name.startswith("kprobe__"):
                self.attach_kprobe(event=name[8:], fn_name=name)
            elif name.startswith("kretprobe__"):
                self.attach_kretprobe(event=name[11:], fn_name=name)
            elif function.section.startswith("tracepoint/"):
                self.attach_tracepoint(tp=function.section[11:].replace("/", ":"), fn_name=name)
            elif function.section.startswith("raw_tracepoint/"):
                self.attach_raw_tracepoint(tp=function.section[15:], fn_name=name)
            elif name.startswith(("kfunc__", "kretfunc__", "lsm__")):
                self._attach_trampoline(name)

    # -- attaching -------------------------------------------------------------------------
    def _remember(self, kind: str, what: str, link: Any) -> None:
        self._links[(kind, what)] = link

    def _forget(self, kind: str, what: str) -> None:
        link = self._links.pop((kind, what), None)
        if link is None:
            raise BccError(f"{kind} {what} is not attached")
        link.close()

    def attach_tracepoint(self, tp: str | bytes = b"", tp_re: str | bytes = b"", fn_name: str | bytes = b"") -> None:
        from pybpf.kernel.attach import attach_tracepoint
        from pybpf.tracefs import Tracefs

        names = [os.fsdecode(tp)]
        if tp_re:
            pattern = re.compile(os.fsdecode(tp_re))
            names = sorted(e for e in Tracefs().events if pattern.fullmatch(e))
        program = self.load_func(fn_name, BPF.TRACEPOINT)
        for name in names:
            self._remember("tracepoint", name, attach_tracepoint(program.fd, name))

    def detach_tracepoint(self, tp: str | bytes = b"") -> None:
        self._forget("tracepoint", os.fsdecode(tp))

    def attach_raw_tracepoint(self, tp: str | bytes = b"", fn_name: str | bytes = b"") -> None:
        from pybpf.kernel.attach import attach_raw_tracepoint

        program = self.load_func(fn_name, BPF.RAW_TRACEPOINT)
        name = os.fsdecode(tp)
        try:
            link = attach_raw_tracepoint(program.fd, name)
        except BPFError as exc:
            if exc.errno != errno.EINVAL:
                raise
            count = _raw_tracepoint_arguments(name)
            has = f"the {count} {name} has" if count is not None else f"{name} has"
            raise BccError(f"raw tracepoint {name}: the kernel refused {os.fsdecode(fn_name)} (EINVAL): it reads "
                           f"more arguments (ctx->args[N]) than {has} in this kernel") from None
        self._remember("raw_tracepoint", name, link)

    def detach_raw_tracepoint(self, tp: str | bytes = b"") -> None:
        self._forget("raw_tracepoint", os.fsdecode(tp))

    def attach_kprobe(self, event: str | bytes = b"", event_off: int = 0, fn_name: str | bytes = b"",
                      event_re: str | bytes = b"") -> None:
        self._attach_kprobe(os.fsdecode(event), event_off, os.fsdecode(fn_name), False, event_re)

    def attach_kretprobe(self, event: str | bytes = b"", fn_name: str | bytes = b"", event_re: str | bytes = b"",
                         maxactive: int = 0) -> None:
        self._attach_kprobe(os.fsdecode(event), 0, os.fsdecode(fn_name), True, event_re)

    def _attach_kprobe(self, event: str, offset: int, fn_name: str, retprobe: bool, event_re: Any = b"") -> None:
        from pybpf.kernel.attach import AttachError, attach_kprobe, attach_tracepoint
        from pybpf.tracefs import Tracefs

        kind = "kretprobe" if retprobe else "kprobe"
        if event_re:
            pattern = os.fsdecode(event_re)
            named = re.match(r"\^?([A-Za-z_][A-Za-z0-9_]*)", pattern)
            raise BccError(f"{kind} on functions matching {pattern!r}: matching kernel functions needs kprobes, "
                           "which this kernel does not have; "
                           + (_instead(named.group(1), retprobe) if named else "attach to a tracepoint instead"))
        syscall = _syscall_of(event)
        tracefs = Tracefs()
        if syscall is not None and not _has_tracepoint(tracefs, f"syscalls:sys_enter_{syscall}") \
                and _has_tracepoint(tracefs, f"syscalls:sys_enter_new{syscall}"):
            syscall = f"new{syscall}"   # stat, lstat, fstat, uname: the kernel's sys_newstat, ...
        if syscall is not None and _has_tracepoint(tracefs, f"syscalls:sys_enter_{syscall}"):
            tracepoint = f"syscalls:sys_{'exit' if retprobe else 'enter'}_{syscall}"
            form = "_exit" if retprobe else "_enter"
            if self._symbol(fn_name, form) not in self._program_specs:
                raise BccError(f"{kind} on {event}: {fn_name!r} is not a function taking a context")
            program = self._load_entry(fn_name, form)
            if any(getattr(link, "bcc_target", None) == (tracepoint, program.fd) for link in self._links.values()):
                return  # two names of one syscall (stat, newstat): the program already runs there
            try:
                link = attach_tracepoint(program.fd, tracepoint)
            except AttachError as exc:
                if exc.errno == errno.EACCES:
                    raise BccError(f"{kind} on {event} (run on {tracepoint}): {fn_name} reads more arguments "
                                   f"than {syscall}() has") from None
                raise
            link.bcc_target = (tracepoint, program.fd)
            self._remember(kind, event, link)
            return
        from pybpf.kernel.features import kprobes

        def refused(why: object) -> BccError:
            return BccError(f"{kind} on {event}: this kernel cannot attach kprobes ({why}); "
                            f"{_instead(event, retprobe)}; kprobes on a syscall's entry function "
                            "(get_syscall_fnname) run on its syscalls tracepoints")

        if not any(kprobes().values()):   # said before loading: a verifier error would hide it
            raise refused("no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in tracefs")
        program = self.load_func(fn_name, BPF.KPROBE)
        try:
            self._remember(kind, event, attach_kprobe(program.fd, event, retprobe=retprobe, offset=offset))
        except AttachError as exc:
            raise refused(exc) from None

    # -- BTF-attached programs (KFUNC_PROBE, KRETFUNC_PROBE, LSM_PROBE, KMOD_RET) -------------
    def attach_kfunc(self, fn_name: str | bytes = b"") -> Self:
        self._attach_trampoline(_prefixed("kfunc__", fn_name))
        return self

    def attach_kretfunc(self, fn_name: str | bytes = b"") -> Self:
        self._attach_trampoline(_prefixed("kretfunc__", fn_name))
        return self

    def attach_lsm(self, fn_name: str | bytes = b"") -> Self:
        self._attach_trampoline(_prefixed("lsm__", fn_name))
        return self

    def attach_fmod_ret(self, fn_name: str | bytes = b"") -> Self:
        self._attach_trampoline(_prefixed("kmod_ret__", fn_name))
        return self

    def detach_kfunc(self, fn_name: str | bytes = b"") -> None:
        self._forget("kfunc", _prefixed("kfunc__", fn_name))

    def detach_kretfunc(self, fn_name: str | bytes = b"") -> None:
        self._forget("kfunc", _prefixed("kretfunc__", fn_name))

    def detach_lsm(self, fn_name: str | bytes = b"") -> None:
        self._forget("kfunc", _prefixed("lsm__", fn_name))

    def detach_fmod_ret(self, fn_name: str | bytes = b"") -> None:
        self._forget("kfunc", _prefixed("kmod_ret__", fn_name))

    def _attach_trampoline(self, name: str) -> None:
        """Load a KFUNC_PROBE/KRETFUNC_PROBE/LSM_PROBE/KMOD_RET function (its fentry/fexit/
        lsm/fmod_ret program names the kernel function's BTF id) and link it, as BCC's
        bpf_attach_kfunc/bpf_attach_lsm do. A kernel without BPF trampolines refuses the
        load with EPERM: the error says so and names the tracepoint to use instead."""
        from pybpf.kernel.attach import attach_raw_tracepoint

        function = self.translation.functions.get(name)
        if function is None or "/" not in function.section:
            self._symbol(name)   # the error naming the functions there are
            raise BccError(f"{name} is not a KFUNC_PROBE/KRETFUNC_PROBE/LSM_PROBE/KMOD_RET function")
        if ("kfunc", name) in self._links:
            raise BccError(f"{name} is already attached")
        kind, _, target = function.section.partition("/")
        self._check_trampoline_arguments(function, kind, target)
        try:
            program = self.load_func(name, BPF.LSM if kind == "lsm" else BPF.TRACING)
        except BPFError as exc:
            if exc.errno != errno.EPERM:
                raise
            raise BccError(f"{name}: this kernel refuses {kind} programs (BPF trampolines) even to root "
                           f"(BPF_PROG_LOAD: {exc.errno_name}), so {_TRAMPOLINE_MACROS[kind]}({target}) cannot run here; "
                           f"{_instead(target, kind == 'fexit', lsm=kind == 'lsm')}") from None
        self._remember("kfunc", name, attach_raw_tracepoint(program.fd, "", by_btf=True))

    @staticmethod
    def _check_trampoline_arguments(function: Any, kind: str, target: str) -> None:
        """A probe declaring more arguments than the kernel function has (plus the return
        value for fexit) would read past the trampoline's context: say so by name."""
        from pybpf.kernel.btf_targets import vmlinux

        btf = vmlinux()
        found = btf.find(f"bpf_lsm_{target}" if kind == "lsm" else target, Kind.FUNC)
        if found is None:
            close = difflib.get_close_matches(target, [t.name for t in btf.types if t.kind == Kind.FUNC], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise BccError(f"{_TRAMPOLINE_MACROS[kind]}({target}): the kernel's BTF has no function {target}{hint}")
        params = len(btf[found.ref].members)
        most = params + (kind == "fexit")
        if function.arguments > most:
            raise BccError(f"{_TRAMPOLINE_MACROS[kind]}({target}) declares {function.arguments} arguments; "
                           f"{target}() has {params}" + (" (and the return value)" if kind == "fexit" else ""))

    def detach_kprobe(self, event: str | bytes = b"", fn_name: str | bytes = b"") -> None:
        self._forget("kprobe", os.fsdecode(event))

    def detach_kretprobe(self, event: str | bytes = b"", fn_name: str | bytes = b"") -> None:
        self._forget("kretprobe", os.fsdecode(event))

    def attach_uprobe(self, name: str | bytes = b"", sym: str | bytes = b"", sym_re: str | bytes = b"",
                      addr: int | None = None, fn_name: str | bytes = b"", pid: int = -1, sym_off: int = 0) -> None:
        for symbol in self._symbols_matching(name, sym_re) if sym_re else [sym]:
            self._attach_uprobe(name, symbol, addr, fn_name, pid, sym_off, False)

    def attach_uretprobe(self, name: str | bytes = b"", sym: str | bytes = b"", sym_re: str | bytes = b"",
                         addr: int | None = None, fn_name: str | bytes = b"", pid: int = -1) -> None:
        for symbol in self._symbols_matching(name, sym_re) if sym_re else [sym]:
            self._attach_uprobe(name, symbol, addr, fn_name, pid, 0, True)

    @staticmethod
    def _symbols_matching(name: Any, sym_re: Any) -> list[str]:
        """The functions of binary ``name`` whose names match ``sym_re`` (BCC's sym_re)."""
        from pybpf.symbols import ElfSymbols, SymbolError, find_library

        binary = os.fsdecode(name)
        try:
            path = binary if "/" in binary else find_library(binary.removeprefix("lib").split(".so")[0])
            names = ElfSymbols.cached(path).names()
        except SymbolError as exc:
            raise BccError(f"uprobe on {binary}: {exc}") from None
        pattern = re.compile(os.fsdecode(sym_re))
        matched = sorted({n for n in names if pattern.match(n)})
        if not matched:
            raise BccError(f"uprobe on {binary}: no function matches {os.fsdecode(sym_re)!r}")
        return matched

    def _attach_uprobe(self, name: Any, sym: Any, addr: int | None, fn_name: Any, pid: int, offset: int,
                       retprobe: bool) -> None:
        from pybpf.bcc.usdt import enabled_site
        from pybpf.kernel.attach import attach_uprobe, attach_usdt_site

        binary, symbol = os.fsdecode(name), os.fsdecode(sym) or None
        if binary.startswith("lib") and "/" not in binary:
            binary = binary[3:].split(".so")[0]
        program = self.load_func(fn_name, BPF.KPROBE)
        site = enabled_site(binary, addr) if symbol is None and addr is not None and not retprobe else None
        if site is not None:     # a site of an enabled USDT probe: its semaphore raised while attached
            link = attach_usdt_site(program.fd, site, pid=pid)
        else:
            link = attach_uprobe(program.fd, binary, symbol, offset=offset, address=addr, retprobe=retprobe, pid=pid)
        self._remember("uretprobe" if retprobe else "uprobe", f"{binary}:{symbol or addr}", link)

    def detach_uprobe(self, name: str | bytes = b"", sym: str | bytes = b"", addr: int | None = None, **_: Any) -> None:
        self._detach_uprobe("uprobe", name, sym, addr)

    def detach_uretprobe(self, name: str | bytes = b"", sym: str | bytes = b"", addr: int | None = None,
                         **_: Any) -> None:
        self._detach_uprobe("uretprobe", name, sym, addr)

    def _detach_uprobe(self, kind: str, name: Any, sym: Any, addr: int | None) -> None:
        binary = os.fsdecode(name)
        if binary.startswith("lib") and "/" not in binary:
            binary = binary[3:].split(".so")[0]
        self._forget(kind, f"{binary}:{os.fsdecode(sym) or addr}")

    def attach_perf_event(self, ev_type: int = -1, ev_config: int = -1, fn_name: str | bytes = b"",
                          sample_period: int = 0, sample_freq: int = 0, pid: int = -1, cpu: int = -1,
                          group_fd: int = -1) -> None:
        from pybpf.kernel.attach import attach_perf_event

        event = _PERF_EVENTS.get((ev_type, ev_config))
        if event is None:
            raise BccError(f"perf event type {ev_type} config {ev_config} is not one pybpf.bcc knows")
        program = self.load_func(fn_name, BPF.PERF_EVENT)
        link = attach_perf_event(program.fd, event, frequency=sample_freq or None, period=sample_period or None,
                                 pid=pid, cpus=None if cpu < 0 else [cpu])
        self._remember("perf_event", f"{ev_type}:{ev_config}", link)

    def detach_perf_event(self, ev_type: int = -1, ev_config: int = -1) -> None:
        self._forget("perf_event", f"{ev_type}:{ev_config}")

    def attach_xdp(self, dev: str | bytes, fn: Any, flags: int = 0) -> None:
        from pybpf.kernel.attach import attach_xdp

        mode = "skb" if flags & BPF.XDP_FLAGS_SKB_MODE else "native" if flags & BPF.XDP_FLAGS_DRV_MODE else None
        program = fn if hasattr(fn, "fd") else self.load_func(fn, BPF.XDP)
        device = os.fsdecode(dev)
        self._remember("xdp", device, attach_xdp(program.fd, device, **({"mode": mode} if mode else {})))

    def remove_xdp(self, dev: str | bytes, flags: int = 0) -> None:
        self._forget("xdp", os.fsdecode(dev))

    def attach_func(self, fn: Any, attachable_fd: int, attach_type: int, flags: int = 0) -> None:
        """Attach ``fn`` to a cgroup, a sockmap/sockhash... (``attachable_fd``) at
        ``attach_type`` (a ``BPFAttachType``), as BCC's ``bpf_prog_attach``. It is made a
        BPF link, so it also goes when the script exits without ``detach_func`` (an
        attachment by BPF_PROG_ATTACH would outlive it on the cgroup or map)."""
        from pybpf.kernel.link import create_link
        from pybpf.object import AttachType

        try:
            kind = AttachType(attach_type)
        except ValueError:
            raise BccError(f"attach_func: unknown attach type {attach_type}") from None
        self._remember("func", f"{fn.fd}:{attachable_fd}:{int(kind)}", create_link(fn.fd, attachable_fd, kind, flags))

    def detach_func(self, fn: Any, attachable_fd: int, attach_type: int) -> None:
        self._forget("func", f"{fn.fd}:{attachable_fd}:{int(attach_type)}")

    # -- counts ------------------------------------------------------------------------------
    def _count(self, *kinds: str) -> int:
        return sum(1 for kind, _ in self._links if kind in kinds)

    def num_open_kprobes(self) -> int:
        return self._count("kprobe", "kretprobe")

    def num_open_uprobes(self) -> int:
        return self._count("uprobe", "uretprobe")

    def num_open_tracepoints(self) -> int:
        return self._count("tracepoint", "raw_tracepoint")

    # -- tables ------------------------------------------------------------------------------
    def get_table(self, name: str | bytes, keytype: Any = None, leaftype: Any = None, reducer: Any = None) -> Table:
        key = os.fsdecode(name)
        if key in self.tables:
            return self.tables[key]
        decl = self.translation.tables.get(key)
        if decl is None:
            raise TableError(f"no table {key!r} in the BPF program (tables: {', '.join(self.translation.tables)})")
        kernel_map = self._collection.maps[self.translation.map_names[key]]
        # the types the program declared, where the map is the one it declared (a pinned or
        # shared map another program made may differ: its sizes decide then)
        spec = self._map_specs[self.translation.map_names[key]]
        btf = self._btf if (spec.key_size, spec.value_size) == (kernel_map.key_size, kernel_map.value_size) else None
        cache: dict[int, Any] = {}
        k = keytype or (ctype_of(btf, spec.btf_key_type_id, cache) if btf is not None and spec.btf_key_type_id
                        else _sized_int(kernel_map.key_size))
        v = leaftype or (ctype_of(btf, spec.btf_value_type_id, cache) if btf is not None and spec.btf_value_type_id
                         else _sized_int(kernel_map.value_size))
        table = table_class(kernel_map.spec.type)(self, key, kernel_map, k, v)
        if isinstance(table, EventTable):
            table.event_type = self._event_type(key)
        self.tables[key] = table
        return table

    def __getitem__(self, name: str | bytes) -> Table:
        return self.get_table(name)

    def __contains__(self, name: str | bytes) -> bool:
        return os.fsdecode(name) in self.translation.tables

    def __iter__(self) -> Any:
        return iter(self.translation.tables)

    def _event_type(self, table: str) -> Any:
        """The struct the program sends through ``table``: the type of the variable whose
        address is passed to perf_submit/ringbuf_output/ringbuf_reserve, from the BTF."""
        type_name = self.translation.event_types.get(table)
        if type_name is None or self._btf is None:
            return None
        kind, _, name = type_name.rpartition(" ")
        found = self._btf.find(name, Kind.STRUCT if kind == "struct" else None)
        return ctype_of(self._btf, found.id) if found is not None else None

    # -- perf and ring buffers -------------------------------------------------------------
    def _events(self) -> Any:
        from pybpf.kernel.ringbuf import EventPoller

        if self._poller is None:
            self._poller = EventPoller()
        return self._poller

    def _open_perf_buffer(self, table: Table, callback: Callable, pages: int, lost_cb: Callable | None,
                          wakeup_events: int) -> None:
        from pybpf.kernel.perfbuf import PerfBuffer

        buffer = PerfBuffer(table.map, pages=pages, wakeup_events=wakeup_events)
        self._perf_buffers[table.name] = buffer

        def deliver(cpu: int, data: bytes) -> None:
            holder = ctypes.create_string_buffer(bytes(data), len(data))
            callback(cpu, ctypes.addressof(holder), len(data))

        buffer.add_to(self._events(), deliver, (lambda cpu, count: lost_cb(count)) if lost_cb else None)

    def _open_ring_buffer(self, table: Table, callback: Callable, ctx: Any) -> None:
        from pybpf.kernel.ringbuf import RingBuffer

        ring = RingBuffer.of(table.map)
        self._ring_buffers[table.name] = ring

        def deliver(data: bytes) -> None:
            holder = ctypes.create_string_buffer(bytes(data), len(data))
            callback(ctx, ctypes.addressof(holder), len(data))

        self._events().add_ring_buffer(ring, deliver)

    def perf_buffer_poll(self, timeout: int = -1) -> int:
        """Wait up to ``timeout`` ms (forever when negative) and call the callbacks."""
        if not self._perf_buffers and not self._ring_buffers:
            raise BccError("perf_buffer_poll: no perf buffer is open (open_perf_buffer first)")
        return self._events().poll(None if timeout < 0 else timeout / 1000)

    def ring_buffer_poll(self, timeout: int = -1) -> int:
        if not self._ring_buffers:
            raise BccError("ring_buffer_poll: no ring buffer is open (open_ring_buffer first)")
        return self._events().poll(None if timeout < 0 else timeout / 1000)

    def ring_buffer_consume(self) -> int:
        if not self._ring_buffers:
            raise BccError("ring_buffer_consume: no ring buffer is open (open_ring_buffer first)")
        return self._events().drain()

    perf_buffer_consume = ring_buffer_consume

    # -- trace_pipe ----------------------------------------------------------------------------
    def trace_open(self, nonblocking: bool = False) -> Any:
        if self._trace is None:
            from pybpf.tracefs import Tracefs

            try:
                self._trace = open(Tracefs().trace_pipe, "rb", buffering=0)  # noqa: SIM115 (closed by cleanup)
            except OSError as exc:
                raise BccError(f"cannot read {Tracefs().trace_pipe}: {exc.strerror} (one reader at a time: "
                               "is another tracing tool reading it?)") from None
        return self._trace

    def trace_readline(self, nonblocking: bool = False) -> bytes | None:
        """The next trace_pipe line (None at once when ``nonblocking`` and none waits)."""
        trace = self.trace_open(nonblocking)
        while b"\n" not in self._trace_buffer:
            if nonblocking and not select.select([trace], [], [], 0)[0]:
                return None
            chunk = os.read(trace.fileno(), 4096)
            if not chunk:
                break
            self._trace_buffer += chunk
        line, _, rest = bytes(self._trace_buffer).partition(b"\n")
        self._trace_buffer = bytearray(rest)
        return line.rstrip()

    def trace_fields(self, nonblocking: bool = False) -> tuple:
        """(task, pid, cpu, flags, timestamp, message) of the next trace_pipe line."""
        while True:
            line = self.trace_readline(nonblocking)
            if not line and nonblocking:
                return (None,) * 6
            if line is None or line.startswith(b"CPU:"):
                continue
            fields = _trace_fields(line)
            if fields is not None:
                return fields

    def trace_print(self, fmt: str | None = None) -> None:
        while True:
            if fmt:
                fields = self.trace_fields(nonblocking=False)
                line: Any = fmt.format(*fields)
            else:
                line = self.trace_readline(nonblocking=False)
            print(line)
            sys.stdout.flush()

    # -- symbols ---------------------------------------------------------------------------------
    @staticmethod
    def get_syscall_fnname(name: str | bytes) -> bytes:
        return b"__x64_sys_" + (name if isinstance(name, bytes) else name.encode())

    @staticmethod
    def get_syscall_prefix() -> bytes:
        return b"__x64_sys_"

    @staticmethod
    def ksym(addr: int, show_module: bool = False, show_offset: bool = False) -> bytes:
        location = _kernel_symbols().locate(addr)
        name = getattr(location, "name", None) or "[unknown]"
        if show_offset and name != "[unknown]":
            name = f"{name}+0x{getattr(location, 'offset', 0):x}"
        return name.encode()

    @staticmethod
    def ksymname(name: str | bytes) -> int:
        address = _kernel_symbols().address(os.fsdecode(name))
        return -1 if address is None else address

    @staticmethod
    def sym(addr: int, pid: int, show_module: bool = False, show_offset: bool = False,
            demangle: bool = True) -> bytes:
        """BCC's ``name[+0xoffset] [module]`` for an address of process ``pid``. Each pid's
        memory map is read once and the ELF files once for all pids (as BCC's per-pid symbol
        caches: scripts name every frame of every event); an address outside every file
        mapping reads the map again (a library loaded since, a pid reused)."""
        if isinstance(addr, BpfStackBuildId):
            return _build_id_sym(addr, show_module, show_offset)
        if pid < 0:
            return BPF.ksym(addr, show_module, show_offset)
        symbolizer = _user_symbolizer()
        location = symbolizer.user(pid, addr)
        if location.module is None:
            symbolizer.forget(pid)
            location = symbolizer.user(pid, addr)
        name = location.name or "[unknown]"
        if show_offset and location.name:
            name = f"{name}+0x{location.offset:x}"
        if show_module and location.module:
            name = f"{name} [{os.path.basename(location.module)}]"
        return name.encode()

    @staticmethod
    def add_module(modname: str | bytes) -> None:
        """Let :meth:`sym` name the frames of BPF_STACK_TRACE_BUILDID tables in the ELF file
        ``modname`` (BCC's build-id symbol cache); a file that cannot be read is left out
        silently, as BCC's ``bcc_buildsymcache_add_module`` leaves it."""
        from pybpf.symbols import ElfSymbols, SymbolError

        try:
            symbols = ElfSymbols.cached(os.fsdecode(modname))
        except SymbolError:
            return
        if symbols.build_id:
            _BUILD_IDS[symbols.build_id.ljust(20, b"\0")] = symbols.path

    @staticmethod
    def tracepoint_exists(category: str | bytes, event: str | bytes) -> bool:
        from pybpf.tracefs import Tracefs

        return _has_tracepoint(Tracefs(), f"{os.fsdecode(category)}:{os.fsdecode(event)}")

    @staticmethod
    def support_raw_tracepoint() -> bool:
        return True

    @staticmethod
    def support_raw_tracepoint_in_module() -> bool:
        return True

    @staticmethod
    def support_kfunc() -> bool:
        """Whether KFUNC_PROBE/KRETFUNC_PROBE can run: asked of the kernel (BCC looks for the
        trampoline symbol, which this kernel has while refusing fentry programs)."""
        return _kernel_loads(ProgramType.TRACING)

    @staticmethod
    def support_lsm() -> bool:
        return _kernel_loads(ProgramType.LSM)

    @staticmethod
    def kernel_struct_has_field(struct_name: str | bytes, field_name: str | bytes) -> int:
        btf = BTF.load()
        found = btf.find(os.fsdecode(struct_name), Kind.STRUCT)
        return int(found is not None and any(m.name == os.fsdecode(field_name) for m in found.members))

    @staticmethod
    def get_kprobe_functions(event_re: bytes) -> list[bytes]:
        return []

    @classmethod
    def generate_auto_includes(cls, program_words: Any) -> str:
        """No #include lines: BCC adds kernel headers for the types a trace.py/argdist.py
        probe names; here every kernel type comes from vmlinux.h (the kernel's BTF)."""
        return ""

    @staticmethod
    def get_tracepoints(tp_re: str | bytes) -> list[bytes]:
        """Every ``category:event`` matching ``tp_re`` (from its start, as re.match)."""
        from pybpf.tracefs import Tracefs

        pattern = re.compile(os.fsdecode(tp_re))
        return [e.encode() for e in sorted(Tracefs().events) if pattern.match(e)]

    @staticmethod
    def find_library(libname: str | bytes, pid: int = 0) -> bytes | None:
        """The path of library ``lib<libname>`` (mapped by ``pid`` when given, else from
        the ld.so cache), or None."""
        from pybpf.symbols import SymbolError, find_library

        name = os.fsdecode(libname)
        if pid:
            from pybpf.symbols.procmaps import read_maps

            stem = name if name.startswith("lib") else f"lib{name}"
            try:
                paths = sorted({m.path for m in read_maps(pid) if m.is_file})
            except (OSError, SymbolError):
                return None
            found = next((p for p in paths if os.path.basename(p).startswith((f"{stem}.so", f"{stem}-"))), None)
            return found.encode() if found else None
        try:
            return find_library(name).encode()
        except SymbolError:
            return None

    @staticmethod
    def find_exe(bin_path: str | bytes) -> bytes | None:
        """The first executable ``bin_path`` on $PATH (or itself, given a path), or None."""
        path = os.fsencode(bin_path)
        if os.path.dirname(path):
            return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            candidate = os.path.join(os.fsencode(directory.strip('"')), path)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    @staticmethod
    def get_user_functions_and_addresses(name: str | bytes, sym_re: str | bytes) -> list[tuple[bytes, int]]:
        """(function, ELF address) of every function of binary ``name`` matching ``sym_re``:
        the address calls run at, so an IFUNC symbol's is its implementation's (tools
        attach uprobes there by address)."""
        from pybpf.symbols import ElfSymbols, SymbolError, find_library

        binary = os.fsdecode(name)
        try:
            path = binary if "/" in binary else find_library(binary)
            symbols = ElfSymbols.cached(path)
            pattern = re.compile(os.fsencode(sym_re))
            found = []
            for function in symbols.names():
                encoded = function.encode()
                address = symbols.call_address(function) if pattern.match(encoded) else None
                if address is not None:
                    found.append((encoded, address))
        except SymbolError as exc:
            raise BccError(f"cannot list the functions of {binary}: {exc}") from None
        return found

    @staticmethod
    def get_user_functions(name: str | bytes, sym_re: str | bytes) -> set[bytes]:
        return {function for function, _ in BPF.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_user_addresses(name: str | bytes, sym_re: str | bytes) -> set[int]:
        return {address for _, address in BPF.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def add_prefix(prefix: bytes, name: bytes) -> bytes:
        return name if name.startswith(prefix) else prefix + name

    def fix_syscall_fnname(self, name: str | bytes) -> bytes:
        """``sys_clone``, ``__x64_sys_clone`` … as this kernel's syscall function name."""
        syscall = _syscall_of(os.fsdecode(name))
        return self.get_syscall_fnname(syscall) if syscall is not None else os.fsencode(name)

    @staticmethod
    def kernel_enum_has_val(enum_name: str | bytes, value_name: str | bytes) -> bool:
        from pybpf.kernel.btf_targets import vmlinux

        found = vmlinux().find(os.fsdecode(enum_name), Kind.ENUM)
        return found is not None and any(m.name == os.fsdecode(value_name) for m in found.members)

    @staticmethod
    def support_fmod_ret() -> bool:
        return _kernel_loads(ProgramType.TRACING)

    @staticmethod
    def get_probe_limit() -> int:
        limit = os.environ.get("BCC_PROBE_LIMIT", "")
        return int(limit) if limit.isdigit() else 1000

    @classmethod
    def monotonic_time(cls) -> float:
        """CLOCK_MONOTONIC in nanoseconds (as a float, as BCC returns it)."""
        return float(time.clock_gettime_ns(time.CLOCK_MONOTONIC))

    def load_funcs(self, prog_type: int = KPROBE) -> list[Any]:
        """Every function of the program loaded as ``prog_type``."""
        return [self.load_func(name, prog_type) for name in self.translation.functions]

    def dump_func(self, func_name: str | bytes) -> bytes:
        """The function's instructions as bytes (its kprobe entry point's, for a probe function)."""
        from pybpf.isa.encoding import encode

        return encode(self._program_specs[self._symbol(os.fsdecode(func_name))].instructions)

    def free_bcc_memory(self) -> int:
        return 0   # pybpf keeps no compiled object in memory after loading (BCC frees its LLVM one)

    @staticmethod
    def attach_raw_socket(fn: Any, dev: str | bytes) -> None:
        """Attach a socket filter function to a new raw socket on ``dev``, whose fd becomes
        ``fn.sock``: the filter stays with the socket for its life, as in BCC."""
        import socket
        import struct

        device = os.fsdecode(dev)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             socket.htons(0x0003))
        try:
            sock.bind((device, 0x0003))
            sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_BPF, struct.pack("i", fn.fd))
        except OSError as exc:
            sock.close()
            raise BccError(f"attach_raw_socket on {device}: {exc.strerror} (the function must be loaded as "
                           "BPF.SOCKET_FILTER)") from None
        fn.sock = sock.detach()

    # -- lifetime --------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Detach everything, close the buffers, programs and maps (once; also at exit)."""
        if self._collection is None:
            return
        atexit.unregister(self.cleanup)
        for link in self._links.values():
            link.close()
        self._links.clear()
        for buffer in [*self._perf_buffers.values(), *self._ring_buffers.values()]:
            buffer.close()
        self._perf_buffers.clear()
        self._ring_buffers.clear()
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        for context in self._usdt:
            context._detach()
        for program in self.funcs.values():
            program.close()
        self.funcs.clear()
        if self._trace is not None:
            self._trace.close()
            self._trace = None
        self._collection.close()
        self._collection = None

    def close(self) -> None:
        self.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@dataclass(frozen=True)
class CompiledProgram:
    """A BCC program compiled: its translation, the C given to clang, the object's specs."""

    translation: Translation
    source: str
    spec: Any          # pybpf.object.ObjectSpec
    btf: BTF | None    # the object's BTF (Key/Leaf types, event records)


def compile_program(text: str, cflags: Sequence[str] = (), usdt_contexts: Sequence[Any] = (),
                    show: bool = False) -> CompiledProgram:
    """Translate BCC's C dialect and compile it with pybpf's clang (no kernel object is made)."""
    from pybpf.object.elf import load_object
    from pybpf.toolchain.compile import CompileError, compile_c

    translation = translate(preprocess(text, list(cflags)))
    headers = kernel_constants(translation.source) + kernel_inlines(translation.source) + "".join(tracepoint_struct(c, e) for c, e in sorted(translation.tracepoint_structs))
    if usdt_contexts:
        headers += usdt_prelude(list(usdt_contexts))
    # loads from kernel memory become probe reads, decided on clang's syntax tree of the
    # program as it will be compiled (so after its headers)
    # BCC's C is lax about types, as BCC's own clang flags let it be
    flags = [*cflags, "-Wno-unused-value", "-Wno-pointer-sign", "-Wno-int-conversion",
             "-Wno-incompatible-pointer-types", "-Wno-unused-variable"]
    translation.source = rewrite_kernel_reads(PRELUDE + headers, translation.source, flags)
    source = PRELUDE + headers + translation.source
    if show:
        print(source, file=sys.stderr)
    try:
        data = compile_c(source, cflags=flags)
    except CompileError as exc:
        raise _kernel_type_hint(exc) from None
    spec = load_object(data, name="bcc")
    blob = next((p.btf.btf for p in spec.programs.values() if p.btf is not None and p.btf.btf), None)
    return CompiledProgram(translation, source, spec, BTF.parse(blob) if blob else None)


def _kernel_type_hint(exc: Any) -> Any:
    """A compile error about a kernel struct vmlinux.h lacks (``incomplete definition of
    type 'struct nfs_commit_data'``: nfsslower on a kernel without NFS), saying so: the
    kernel's types come from its BTF, which has every type of the code built into it."""
    match = re.search(r"incomplete definition of type 'struct (\w+)'", str(exc))
    if match is None:
        return exc
    from pybpf.kernel.btf_targets import vmlinux

    try:
        if vmlinux().find(match[1], Kind.STRUCT) is not None:
            return exc
    except PybpfError:
        return exc
    exc.args = (f"{exc}: the running kernel's BTF has no struct {match[1]}: the code that defines it "
                "is not built into this kernel (pybpf reads vmlinux's BTF, not modules')",)
    return exc


# (PerfType, config) → pybpf's perf event names
_PERF_EVENTS = {(1, 0): "cpu-clock", (1, 1): "task-clock", (1, 2): "page-faults", (1, 3): "context-switches",
                (1, 4): "cpu-migrations", (1, 5): "minor-faults", (1, 6): "major-faults",
                (0, 0): "cpu-cycles", (0, 1): "instructions", (0, 2): "cache-references", (0, 3): "cache-misses",
                (0, 4): "branch-instructions", (0, 5): "branch-misses"}


_SO_ATTACH_BPF = 50

_TRAMPOLINE_MACROS = {"fentry": "KFUNC_PROBE", "fexit": "KRETFUNC_PROBE", "lsm": "LSM_PROBE", "fmod_ret": "KMOD_RET"}


#: build id (20 bytes, as the kernel gives it) → file, of BPF.add_module's files
_BUILD_IDS: dict[bytes, str] = {}


def _build_id_sym(frame: BpfStackBuildId, show_module: bool, show_offset: bool) -> bytes:
    """BCC's ``sym`` of a build-id frame: the function at its file offset in the added
    module with that build id, ``[unknown]`` for a module not added."""
    from pybpf.symbols import ElfSymbols, SymbolError

    path = _BUILD_IDS.get(bytes(frame.build_id))
    found = None
    if path is not None:
        try:
            symbols = ElfSymbols.cached(path)
        except SymbolError:
            symbols = None
        vaddr = symbols.vaddr_of_offset(frame.offset) if symbols else None
        found = symbols.find(vaddr) if symbols and vaddr is not None else None
    name = found[0] if found else "[unknown]"
    if show_offset and found:
        name = f"{name}+0x{found[1]:x}"
    if show_module and path is not None:
        name = f"{name} [{os.path.basename(path)}]"
    return name.encode()


def _prefixed(prefix: str, fn_name: str | bytes) -> str:
    """BCC's add_prefix: ``attach_kfunc(fn_name="vmlinux__do_exit")`` names kfunc__vmlinux__do_exit."""
    name = os.fsdecode(fn_name)
    return name if name.startswith(prefix) else prefix + name


def _has_tracepoint(tracefs: Any, name: str) -> bool:
    """Whether tracepoint ``category:event`` exists: its format file, asked of the file
    system (listing every event, as ``Tracefs.events`` does, takes 0.1-0.3 s; syscall tools
    ask this for each of their syscalls)."""
    category, _, event = name.partition(":")
    return "/" not in name and (tracefs.root / "events" / category / event / "format").exists()


def _instead(function: str, returning: bool, lsm: bool = False) -> str:
    """What to attach to instead of a kprobe/fentry on kernel ``function``: the tracepoint
    reporting the same event (a syscall's sys_exit_* for a return probe), or the nearest
    tracepoint by name in the function's subsystem."""
    from pybpf.tracefs import Tracefs

    tracefs = Tracefs()
    events = tracefs.events
    nearest = tracefs.tracepoint_for_function(function)
    if nearest is None:
        # do_unlinkat, vfs_fsync, ksys_read...: the syscall the function serves
        stem = re.sub(r"^(__x64_sys_|__se_sys_|__do_sys_|do_sys_|ksys_|do_|vfs_|sys_)", "", function)
        nearest = next((e for e in (f"syscalls:sys_enter_{stem}", f"syscalls:sys_enter_{stem}at") if e in events),
                       None)
    if nearest is None and not lsm:
        # a close name of the function's own subsystem (its first word: tcp_, xfs_, sched_,
        # add_to_page_cache_lru's add_): close names of others mislead (tty_write is no
        # maple_tree:ma_write, d_lookup no xfs:xfs_lookup)
        head = function.strip("_").split("_")[0]
        same = sorted(e for e in events if e.split(":")[0] == head or head in e.split(":")[1].split("_"))
        close = difflib.get_close_matches(function, [e.split(":", 1)[1] for e in same], n=1)
        nearest = next((e for e in same if close and e.endswith(":" + close[0])), None)
    if nearest is not None and returning and nearest.startswith("syscalls:sys_enter_"):
        nearest = nearest.replace(":sys_enter_", ":sys_exit_")
    if nearest is None:
        return ("no tracepoint reports this hook; attach a TRACEPOINT_PROBE to the syscall that reaches it"
                if lsm else f"no tracepoint reports {function}; use a TRACEPOINT_PROBE (BPF.tracepoint_exists)")
    return f"the nearest tracepoint is {nearest} (use TRACEPOINT_PROBE or attach_tracepoint)"


def _syscall_of(function: str) -> str | None:
    for prefix in _SYSCALL_PREFIXES:
        if function.startswith(prefix):
            return function[len(prefix):]
    return None


def _sized_int(size: int) -> Any:
    return {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}.get(
        size, ctypes.c_uint8 * size)


def _raw_tracepoint_arguments(name: str) -> int | None:
    """How many arguments raw tracepoint ``name`` passes (its ``btf_trace_<name>`` type's
    parameters after the first, which is the tracepoint's data), or None unknown."""
    from pybpf.kernel.btf_targets import vmlinux

    try:
        btf = vmlinux()
    except PybpfError:
        return None
    found = btf.find(f"btf_trace_{name}", Kind.TYPEDEF)
    if found is None:
        return None
    proto = btf.resolve(btf[found.ref].ref) if btf[found.ref].kind == Kind.PTR else btf.resolve(found.ref)
    return len(proto.members) - 1 if proto.kind == Kind.FUNC_PROTO else None


def _kernel_loads(kind: ProgramType) -> bool:
    from pybpf.kernel.features import YES, program_type

    try:
        return program_type(kind) == YES
    except PybpfError:
        return False


_KSYMS: list[Any] = []


def _kernel_symbols() -> Any:
    if not _KSYMS:
        from pybpf.symbols.kallsyms import KernelSymbols

        _KSYMS.append(KernelSymbols.load())
    return _KSYMS[0]


_USER_SYMBOLIZER: list[Any] = []


def _user_symbolizer() -> Any:
    if not _USER_SYMBOLIZER:
        from pybpf.symbols import Symbolizer

        _USER_SYMBOLIZER.append(Symbolizer())
    return _USER_SYMBOLIZER[0]


def _trace_fields(line: bytes) -> tuple | None:
    """A trace_pipe line (``task-pid [cpu] flags ts: sym: msg``) as BCC's six fields."""
    task, rest = line[:16].lstrip(), line[17:]
    ts_end = rest.find(b":")
    parts = rest[:ts_end].split()
    if len(parts) != 4:
        return None
    pid, cpu, flags, ts = parts
    rest = rest[ts_end + 1:]
    msg = rest[rest.find(b":") + 2:]
    try:
        return (task, int(pid), int(cpu[1:-1]), flags, float(ts), msg)
    except ValueError:
        return ("Unknown", 0, 0, "Unknown", 0.0, "Unknown")
