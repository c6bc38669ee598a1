"""Running a trace program in the kernel: expand attach points, compile, create the maps
and the event ring buffer, load, run BEGIN, attach, print events until exit() or a
signal, detach, run END, print the maps — bpftrace's life cycle and its output."""

from __future__ import annotations

# _signal is the C module under signal, whose wrappers only turn numbers into enums
# (importing signal, which makes them, is ~0.8 ms of every trace): as pybpf.termination
import _signal
import errno
import os
import re
import struct
import sys
import time

from pybpf.trace import ast
from pybpf.trace.codegen import (
    JOIN,
    JOIN_ARG_SIZE,
    JOIN_ARGS,
    RING,
    STACKS,
    Compiled,
    Context,
    Generator,
)
from pybpf.trace.errors import TraceRuntimeError, TraceSyntaxError, line_column, placed
from pybpf.trace.parser import parse
from pybpf.trace.types import decode

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any, TextIO
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

RING_SIZE = 1 << 20
LOG_SIZE = 1000000  #: -v's verifier log buffer unless BPFTRACE_LOG_SIZE says otherwise, as bpftrace's default
#: kernel probe kinds refused on kernels without kprobes / BPF trampolines
_KERNEL_FUNCTION_KINDS = ("kprobe", "kretprobe", "kfunc", "kretfunc")


@dataclass
class Options:
    params: list[str] = field(default_factory=list)
    output: TextIO = sys.stdout
    format: str = "text"
    pid: int = -1
    command: str | None = None
    quiet: bool = False
    unsafe: bool = False
    helper_checks: int = 0    #: -k (1) / -kk (2): report helpers that fail, as bpftrace
    warnings: bool = True     #: compile-time warnings on stderr (--no-warnings: none)
    verbose: bool = False     #: -v: each program's id and verifier log, as bpftrace prints them
    log_size: int = LOG_SIZE  #: -v's verifier log buffer (BPFTRACE_LOG_SIZE), fixed as bpftrace's
    ring_size: int = RING_SIZE  #: bytes of the ring buffer events go through (a power of 2 of pages)


def _tracefs() -> Any:
    from pybpf.tracefs import Tracefs
    return Tracefs()


class _GivenFormats:
    """Tracepoint formats given by the caller (the vm runs programs without tracefs)."""

    def __init__(self, formats: dict[str, Any]):
        self.formats = formats

    def match(self, pattern: str) -> list[str]:
        import fnmatch  # (for wildcard probes only, as below)

        return sorted(name for name in self.formats if fnmatch.fnmatchcase(name, pattern))

    def format(self, name: str) -> Any:
        if name not in self.formats:
            raise TraceRuntimeError(f"no format given for tracepoint {name}")
        return self.formats[name]


def expand(program: ast.Script, formats: dict[str, Any] | None = None,
           pid: int = 0, binary: str = "") -> list[tuple[ast.Probe, Context]]:
    """Every (probe, attach point) to compile: wildcards matched against tracefs (or
    against ``formats``, ``category:name`` → TracepointFormat, when given); ``pid``
    (-p, or the -c command) gives usdt probes without a binary their process; ``binary``
    (the -c command's executable, else the -p process's) is where FUNCTION+argN
    watchpoints find their function."""
    out: list[tuple[ast.Probe, Context]] = []
    watches = 0
    tracefs = _GivenFormats(formats) if formats is not None else None
    _check_iterators(program)
    for probe in program.probes:
        for point in probe.points:
            if point.kind == "tracepoint":
                tracefs = tracefs or _tracefs()
                if len(point.parts) != 2:
                    raise TraceSyntaxError("tracepoint probes are tracepoint:CATEGORY:NAME", program.source,
                                           point.position, point.length)
                pattern = ":".join(point.parts)
                names = tracefs.match(pattern) if any(c in pattern for c in "*?[") else [pattern]
                # one named tracepoint: look for its format file, not list all ~2500 of them
                if not any(c in pattern for c in "*?[") and not isinstance(tracefs, _GivenFormats) and \
                        not (tracefs.root / "events" / point.parts[0] / point.parts[1] / "format").exists():
                    raise TraceSyntaxError(f"tracepoint not found: {pattern}", program.source, point.position,
                                           point.length)
                if not names:
                    raise TraceSyntaxError(f"no tracepoint matches {pattern}", program.source, point.position,
                                           point.length)
                for name in names:
                    try:
                        fmt = tracefs.format(name)
                    except Exception as exc:  # tracefs refusals carry their reason
                        raise TraceSyntaxError(str(exc), program.source, point.position, point.length) from None
                    out.append((probe, Context(point, f"tracepoint:{name}", fmt)))
            elif point.kind in ("uprobe", "uretprobe") and len(point.parts) == 2:
                for target in _uprobe_targets(point, program.source, pid):
                    out.append((probe, Context(point, target, None)))
            elif point.kind == "usdt":
                for target, site in _usdt_sites(point, program.source, pid):
                    context = Context(point, target, None)
                    context.usdt_site = site
                    out.append((probe, context))
            elif point.kind in ("watchpoint", "asyncwatchpoint") and "+" in point.parts[0]:
                pairs = _function_watchpoints(probe, point, program.source, pid, binary, watches)
                out.extend(pairs)
                watches += len(pairs) // 2  # a setup uprobe and the probe's program per function
            elif point.kind in ("watchpoint", "asyncwatchpoint"):
                watchpoint(point, program.source)
                out.append((probe, Context(point, _canonical(point), None)))
            elif point.kind in _KERNEL_FUNCTION_KINDS:
                raise _kernel_function_refusal(point, program.source)
            else:
                out.append((probe, Context(point, _canonical(point), None)))
    return out


#: the iterators bpftrace offers, with the context struct each program gets
ITERATORS = ("task", "task_file")


def _check_iterators(program: ast.Script) -> None:
    """An iter: probe runs once and ends the run, so it must be the only probe besides
    BEGIN/END, with one attach point (as bpftrace requires)."""
    points = [p for probe in program.probes for p in probe.points if p.kind not in ("BEGIN", "END")]
    for point in points:
        if point.kind != "iter":
            continue
        if point.parts[0] not in ITERATORS:
            raise TraceSyntaxError(f"iter {point.parts[0]} is not supported (iterators: {', '.join(ITERATORS)})",
                                   program.source, point.position, point.length)
        if len(points) > 1:
            raise TraceSyntaxError("an iter probe must be the only probe (besides BEGIN and END), with one "
                                   "attach point", program.source, point.position, point.length)


#: perf's hardware breakpoint kinds (HW_BREAKPOINT_R, _W, _X) by watchpoint mode letter
_ACCESS = {"r": 1, "w": 2, "x": 4}


def watchpoint(point: ast.AttachPoint, source: str) -> tuple[int, int, int]:
    """``watchpoint:ADDRESS:LENGTH:MODE`` → (address, length, perf bp_type), checked as
    bpftrace checks them: an absolute address (a user address in the -p/-c process, or a
    kernel address), or ``FUNCTION+argN`` (address 0 here: known when FUNCTION runs)."""
    def fail(reason: str) -> TraceSyntaxError:
        return TraceSyntaxError(reason, source, point.position, point.length)

    if len(point.parts) != 3:
        raise fail(f"{point.kind} probe type requires 3 arguments")
    address_text, length_text, mode = point.parts
    try:
        address = 0 if "+" in address_text else int(address_text, 0)
    except ValueError:
        raise fail(f"{address_text}: a watchpoint address is a number or FUNCTION+argN") from None
    try:
        length = int(length_text, 0)
    except ValueError:
        raise fail(f"watchpoint length '{length_text}' is not a number") from None
    if address == 0 and "+" not in address_text:
        raise fail("watchpoint must be attached to a non-zero address")
    if length not in (1, 2, 4, 8):
        raise fail("watchpoint length must be one of (1,2,4,8)")
    if not mode or any(c not in _ACCESS for c in mode):
        raise fail("watchpoint mode must be combination of (r,w,x)")
    if len(set(mode)) != len(mode):
        raise fail("watchpoint modes may not be duplicated")
    if "x" in mode and len(mode) > 1:  # x86: execute breakpoints watch nothing else
        raise fail(f"invalid watchpoint mode: {''.join(sorted(mode))}")
    return address, length, sum(_ACCESS[c] for c in mode)


def _function_watchpoints(probe: ast.Probe, point: ast.AttachPoint, source: str, pid: int, binary: str,
                          first: int) -> list[tuple[ast.Probe, Context]]:
    """``watchpoint:FUNCTION+argN:LENGTH:MODE`` (FUNCTION may be a glob): for each
    function, a uprobe that asks userspace to watch the address in argN (stopping the
    process until the breakpoint is set, unless async), and the probe's own program,
    attached to that breakpoint when the request comes (bpftrace's design). Watchpoints
    are numbered from ``first`` across the program."""
    def fail(reason: str) -> TraceSyntaxError:
        return TraceSyntaxError(reason, source, point.position, point.length)

    watchpoint(point, source)
    function, _, argument = point.parts[0].partition("+")
    if not argument.startswith("arg") or not argument[3:].isdigit():
        raise fail("Invalid function argument")
    if not binary and pid > 0:
        try:
            binary = os.readlink(f"/proc/{pid}/exe")
        except OSError as exc:
            raise fail(f"process {pid}: {exc.strerror}") from None
    if not binary:
        raise fail(f"{point.kind} on a function needs a process: -p PID or -c CMD")
    setup_points = _uprobe_targets(ast.AttachPoint(f"uprobe:{binary}:{function}", "uprobe", [binary, function],
                                                   position=point.position, length=point.length), source)
    out = []
    for index, target in enumerate(setup_points, first):
        name = target.rsplit(":", 1)[1]
        setup_point = ast.AttachPoint(target, "uprobe", [binary, name], position=point.position, length=point.length)
        request = ast.Call("__watch", [ast.Integer(index), ast.Builtin(argument),
                                       ast.Integer(int(point.kind == "asyncwatchpoint"))],
                           position=point.position, length=point.length)
        setup = Context(setup_point, target, None)
        setup.watch = ("setup", index)
        out.append((ast.Probe([setup_point], None, [ast.ExprStatement(request)]), setup))
        number = int(argument[3:])
        shown = f"{point.kind}:{binary}:{name}{f':{number}' if number else ''}:{point.parts[1]}:{point.parts[2]}"
        deferred = Context(point, shown, None)
        deferred.watch = ("deferred", index)
        out.append((probe, deferred))
    return out


def _usdt_sites(point: ast.AttachPoint, source: str, pid: int) -> list[tuple[str, Any]]:
    """``usdt:BINARY:[PROVIDER:]NAME`` → :func:`usdt_sites`, errors placed at the probe."""
    if len(point.parts) not in (2, 3):
        raise TraceSyntaxError("usdt probes are usdt:BINARY:[PROVIDER:]NAME", source, point.position, point.length)
    binary, *names = point.parts
    provider, name = names if len(names) == 2 else ("*", names[0])
    try:
        return usdt_sites(binary, provider, name, pid)
    except TraceRuntimeError as exc:
        raise TraceSyntaxError(str(exc), source, point.position, point.length) from None


def usdt_sites(binary: str, provider: str, name: str, pid: int = 0) -> list[tuple[str, Any]]:
    """(probe name, site) for every site of every usdt probe matching, as bpftrace
    attaches (and counts) them: one program per site, which reads the arguments where
    that site's note says. BINARY may be a glob; empty, it is the -p/-c process's
    executable and the libraries it has mapped; PROVIDER and NAME may be globs (an empty
    PROVIDER matches all)."""
    from pybpf.usdt.errors import UsdtError
    from pybpf.usdt.notes import read_probes

    provider, name = _unquoted(provider) or "*", _unquoted(name)
    import fnmatch

    out: list[tuple[str, Any]] = []
    for path in _usdt_binaries(binary, pid):
        try:
            sites = read_probes(path)
        except UsdtError as exc:
            raise TraceRuntimeError(str(exc)) from None
        matched = [site for site in sites
                   if fnmatch.fnmatchcase(site.provider, provider) and fnmatch.fnmatchcase(site.name, name)]
        refused = next((site.error for site in matched if site.error), "")
        if refused:      # a note whose arguments cannot be decoded
            raise TraceRuntimeError(refused)
        out.extend((f"usdt:{path}:{site.provider}:{site.name}", site) for site in matched)
    if not out:
        raise TraceRuntimeError(f"no USDT probe matches {provider}:{name} in {binary or f'process {pid}'}")
    return out


def _unquoted(text: str) -> str:
    """A probe name part as written, its quotes removed (``"\\"probe1\\""`` → ``"probe1"``)."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"')
    return text


def in_process_root(path: str, pid: int) -> str:
    """``path`` as process ``pid`` sees it, reachable from here: through
    ``/proc/PID/root`` when the process is in another mount namespace (a container,
    a private bind mount), as bpftrace resolves -p's paths."""
    if pid <= 0 or not path.startswith("/"):
        return path
    try:
        if os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
            return path
    except OSError:
        return path
    return f"/proc/{pid}/root{path}"


def process_binaries(pid: int) -> list[str]:
    """Process ``pid``'s executable, then the shared libraries it has mapped (their
    paths reachable from here: see :func:`in_process_root`)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/maps") as f:
            libraries = {line.split()[-1] for line in f if ".so" in line.rsplit("/", 1)[-1]}
    except OSError as exc:
        raise TraceRuntimeError(f"process {pid}: {exc.strerror}") from None
    return [in_process_root(path, pid) for path in (exe, *sorted(libraries))]


def _usdt_binaries(binary: str, pid: int) -> list[str]:
    """The files a usdt probe's BINARY names."""
    import glob

    from pybpf.symbols import SymbolError, find_library
    if not binary or (binary == "*" and pid > 0):
        if pid <= 0:
            raise TraceRuntimeError("usdt probes without a binary need a process (-p PID or -c CMD)")
        return process_binaries(pid)
    if any(c in binary for c in "*?["):
        found = sorted(p for p in glob.glob(binary) if os.path.isfile(p) and os.access(p, os.X_OK))
        if not found:
            raise TraceRuntimeError(f"no file matches {binary}")
        return found
    if "/" in binary:
        return [in_process_root(binary, pid)]
    try:
        return [find_library(binary)]
    except SymbolError as exc:
        raise TraceRuntimeError(str(exc)) from None


def _uprobe_targets(point: ast.AttachPoint, source: str, pid: int = 0) -> list[str]:
    """``uprobe:BINARY:FUNCTION`` targets: a glob expanded over the binary's functions,
    quotes removed, ``+OFFSET`` and addresses checked against the symbol table; a path
    as the -p process sees it (:func:`in_process_root`)."""
    from pybpf.symbols import ElfSymbols, SymbolError, find_library

    def fail(reason: str) -> TraceSyntaxError:
        return TraceSyntaxError(reason, source, point.position, point.length)

    binary, function = point.parts
    function = function.replace('"', "")
    if "/" in binary:
        binary = in_process_root(binary, pid)
    try:
        path = binary if "/" in binary else find_library(binary)
        elf = ElfSymbols.cached(path)
    except SymbolError as exc:
        raise fail(str(exc)) from None
    name, _, offset = function.partition("+")
    if any(c in name for c in "*?["):
        import fnmatch

        names = sorted({n for n in elf.names() if fnmatch.fnmatchcase(n, name)})
        if not names:
            raise fail(f"no function in {path} matches {name}")
        return [f"{point.kind}:{binary}:{n}" for n in names]
    if name[:1].isdigit():
        address = int(name, 0)
        found = elf.find(address)
        if found is None or found[1] != 0:
            raise fail(f"Could not resolve address: {binary}:0x{address:x}")
        return [f"{point.kind}:{binary}:{name}"]
    start = elf.address(name)
    if start is None:
        raise fail(f"no function {name!r} in {path}")
    if offset:
        found = elf.find(start + int(offset, 0))
        if found is None or found[0] != name:
            raise fail(f"Offset outside the function bounds ('{name}' size is smaller than {int(offset, 0)})")
    return [f"{point.kind}:{binary}:{function}"]


def _canonical(point: ast.AttachPoint) -> str:
    return point.kind if not point.parts else f"{point.kind}:{':'.join(point.parts)}"


def _kernel_function_refusal(point: ast.AttachPoint, source: str) -> TraceSyntaxError:
    function = point.parts[-1] if point.parts else ""
    hint = ""
    try:
        if not os.path.exists("/sys/bus/event_source/devices/kprobe"):
            instead = _tracefs().tracepoint_for_function(function)
            hint = (f"; the tracepoint tracepoint:{instead} reports the same event" if instead else
                    "; use a tracepoint instead (pybpf trace -l 'tracepoint:*')")
            return TraceSyntaxError(f"{point.kind} probes need kprobes/BPF trampolines, which this kernel "
                                    f"does not have{hint}", source, point.position, point.length)
    except Exception:  # noqa: BLE001 - no tracefs: refuse without a suggestion
        pass
    return TraceSyntaxError(f"{point.kind} probes are not supported by pybpf trace yet; use a tracepoint",
                            source, point.position, point.length)


def _kernel_names(program: ast.Script) -> set[str]:
    """The struct/union types the probes of ``program`` take from the kernel: those they
    name (casts, sizeof, offsetof) and ``curtask``'s ``struct task_struct``."""
    names = set()
    for probe in program.probes:
        for node in ast.walk(probe):
            if isinstance(node, ast.Builtin) and node.name == "curtask":
                names.add("struct task_struct")
            elif isinstance(node, (ast.Cast, ast.SizeOf, ast.OffsetOf)) and node.ctype:
                names.update(" ".join(m.groups()) for m in re.finditer(r"\b(struct|union)\s+(\w+)", node.ctype))
    return names


def compile_source(source: str, params: list[str] | None = None, filename: str = "stdin",
                   cpid: int = 0, formats: dict[str, Any] | None = None, unsafe: bool = False,
                   pid: int = 0, binary: str = "", helper_checks: int = 0) -> Compiled:
    """Parse, check and generate code for every attach point of ``source`` (``cpid``:
    the pid of the -c command, for the ``cpid`` builtin; ``formats``: tracepoint layouts
    to use instead of tracefs's)."""
    program = parse(source, filename, params)
    try:
        contexts = expand(program, formats, pid or cpid, binary)
        gen = Generator(program, list(params or []), None)
        gen.kernel.define(program.c_definitions, _kernel_names(program))
        gen.cpid = cpid
        gen.unsafe = unsafe
        gen.helper_checks = helper_checks
        gen.declare_maps(contexts)
        probes = [gen.compile_probe(probe, ctx) for probe, ctx in contexts]
    except TraceSyntaxError as exc:
        raise exc.located(source, filename) from None
    warnings = [placed("WARNING", reason, source, position, length, filename)
                for reason, position, length in gen.warnings]
    return Compiled(probes, gen.maps, gen.actions, gen.start_ns, gen.uses, gen.kernel, warnings, source, filename)


class Session:
    """One run in the kernel; ``close()`` detaches and frees everything."""

    def __init__(self, compiled: Compiled, options: Options, engine: str = "kernel"):
        self.engine = engine
        self.collection: Any = None
        self.map_names: dict[str, str] = {}
        self.compiled = compiled
        self.options = options
        self.out = options.output
        self.kernel_maps: dict[str, Any] = {}
        self.programs: list[tuple[Any, Any]] = []
        self.attachments: list[Any] = []
        self.exiting = False
        self.exit_code = 0        #: the status exit(code) asked for
        self.interrupted = False  #: SIGINT/SIGTERM: stop reading events (more may keep coming)
        self.ring: Any = None
        self._symbolizer: Any = None
        self.child_pid = 0            #: the -c command's pid (watchpoints follow it)
        self.watch_programs: dict[int, tuple[Any, Any]] = {}  #: FUNCTION+argN watchpoints' programs
        self.watched: dict[tuple[int, int], Any] = {}  #: (watchpoint, address) → its breakpoint (None: gone)
        self.iterator: tuple[Any, str] | None = None  #: an iter: probe's link, and where to pin it

    # -- setup -----------------------------------------------------------------------

    def collection_spec(self) -> Any:
        """Every map and program of the compiled program, as one CollectionSpec."""
        from pybpf.object import AttachType, CollectionSpec, MapSpec, MapType, ProgramSpec
        from pybpf.trace.functions_btf import functions_btf

        self.map_names = {RING: RING}
        maps = [MapSpec(RING, MapType.RINGBUF, 0, 0, self.options.ring_size)]
        if STACKS in self.compiled.uses:
            self.map_names[STACKS] = STACKS
            maps.append(MapSpec(STACKS, MapType.STACK_TRACE, 4, 8 * 127, 4096, key_type=int, value_type=bytes))
        if JOIN in self.compiled.uses:
            self.map_names[JOIN] = JOIN
            maps.append(MapSpec(JOIN, MapType.PERCPU_ARRAY, 4, 8 + JOIN_ARGS * JOIN_ARG_SIZE, 1,
                                key_type=int, value_type=bytes))
        for i, info in enumerate(self.compiled.maps.values()):
            self.map_names[info.name] = f"m{i}_{info.name[1:][:10]}"
            kind = MapType.PERCPU_HASH if info.per_cpu else MapType.HASH
            maps.append(MapSpec(self.map_names[info.name], kind, info.full_key_size, info.value_size, 4096,
                                key_type=bytes, value_type=bytes))
        programs = [ProgramSpec(f"trace_{i}", probe.program_type, probe.instructions,
                                references={at: self.map_names[m] for at, m in probe.references.items()},
                                btf=functions_btf(probe.instructions),
                                expected_attach_type=AttachType.TRACE_ITER if probe.point.kind == "iter" else None,
                                attach_to=probe.point.parts[0] if probe.point.kind == "iter" else "")
                    for i, probe in enumerate(self.compiled.probes)]
        return CollectionSpec.of(*maps, *programs)

    def load(self) -> None:
        from pybpf.engine import load
        from pybpf.errors import PybpfError

        spec = self.collection_spec()
        verbose = self.options.verbose and self.engine == "kernel"
        logging = {"log_level": 1, "log_size": self.options.log_size, "grow_log": False} if verbose else {}
        try:
            self.collection = load(spec, engine=self.engine, **logging)
        except PybpfError as exc:
            if verbose:
                raise self._verbose_refusal(exc) from None
            raise TraceRuntimeError(f"the {self.engine} refused the program: {exc}") from None
        self.kernel_maps = {name: self.collection.maps[spec_name] for name, spec_name in self.map_names.items()}
        self.programs = [(probe, self.collection.programs[f"trace_{i}"])
                         for i, probe in enumerate(self.compiled.probes)]
        if self.engine == "kernel":
            from pybpf.kernel.ringbuf import RingBuffer
            self.ring = RingBuffer(self.kernel_maps[RING].fd, self.options.ring_size)

    def _verbose_refusal(self, exc: Exception) -> TraceRuntimeError:
        """-v's refusal as bpftrace's: the verifier log on stderr, then which probe's
        program was refused (and, for the kernel's ENOSPC, that the fixed log buffer of
        BPFTRACE_LOG_SIZE bytes was too small for the log)."""
        sys.stderr.write(f"\nError log: \n{getattr(exc, 'log', '')}\n")
        found = re.search(r"program 'trace_(\d+)'", getattr(exc, "target", ""))
        name = self.compiled.probes[int(found.group(1))].target if found else "?"
        if getattr(exc, "errno", 0) == errno.ENOSPC:
            return TraceRuntimeError(
                f"ERROR: Error loading program: {name}: the verification log buffer is not big enough, "
                "try increasing the BPFTRACE_LOG_SIZE environment variable beyond the current value of "
                f"{self.options.log_size} bytes")
        return TraceRuntimeError(f"ERROR: Error loading program: {name}: {exc}")

    def report_loaded(self) -> None:
        """-v: each program's id and verifier log, on stdout as bpftrace prints them."""
        for _probe, program in self.programs:
            self.write(f"\nProgram ID: {program.id}\n\nThe verifier log: \n{program.log}\n")

    def run_special(self, kind: str) -> None:
        for probe, program in self.programs:
            if probe.point.kind == kind:
                program.test_run(ctx=bytes(8))

    def attach(self) -> None:
        from pybpf.kernel.attach import attach, attach_perf_event
        from pybpf.kernel.perf_event import online_cpus

        for probe, program in self.attach_order():
            kind, parts = probe.point.kind, probe.point.parts
            try:
                if kind in ("BEGIN", "END"):
                    continue
                if probe.watch is not None and probe.watch[0] == "deferred":
                    self.watch_programs[probe.watch[1]] = (probe, program)  # attached on its setup's request
                    continue
                if kind == "interval":
                    period = _period_ns(parts, probe.target)
                    self.attachments.append(attach_perf_event(program.fd, "cpu-clock", period=period,
                                                              cpus=[online_cpus()[0]]))
                elif kind == "profile":
                    unit, value = _unit_value(parts, probe.target)
                    if unit == "hz":
                        self.attachments.append(attach_perf_event(program.fd, "cpu-clock", frequency=value,
                                                                  pid=self.options.pid))
                    else:
                        self.attachments.append(attach_perf_event(program.fd, "cpu-clock",
                                                                  period=_period_ns(parts, probe.target),
                                                                  pid=self.options.pid))
                elif kind == "rawtracepoint":
                    self.attachments.append(attach(program, f"raw_tracepoint:{parts[-1]}"))
                elif kind == "usdt":
                    self.attachments.append(self.attach_usdt_site(program, probe.usdt_site))
                elif kind in ("uprobe", "uretprobe"):
                    self.attachments.append(attach(program, probe.target.replace('"', ""), pid=self.options.pid))
                elif kind in ("watchpoint", "asyncwatchpoint"):
                    self.attachments.append(self.attach_watchpoint(program, probe))
                elif kind == "iter":
                    from pybpf.kernel.attach import attach_iterator
                    self.iterator = (attach_iterator(program.fd, parts[0]), parts[1] if len(parts) > 1 else "")
                    self.attachments.append(self.iterator[0])
                else:
                    self.attachments.append(attach(program, probe.target))
            except TraceRuntimeError:
                raise
            except Exception as exc:
                raise TraceRuntimeError(f"{probe.target}: {exc}") from None

    def attach_order(self) -> list[tuple[Any, Any]]:
        """The probes in program order, as bpftrace attaches them (a running process
        meets the first attached first: ``usdt:bin:*`` on a busy loop reports its first
        probe), except that several blocks on one uprobe/usdt/software hook attach last
        first: the kernel runs those hooks' programs newest first, and the blocks must
        run in program order."""
        reverse = ("uprobe", "uretprobe", "usdt", "software")
        first: dict[str, int] = {}
        for i, (probe, _) in enumerate(self.programs):
            first.setdefault(probe.target, i)
        return [self.programs[i] for i in sorted(
            range(len(self.programs)), key=lambda i: (first[self.programs[i][0].target],
                                                      -i if self.programs[i][0].point.kind in reverse else i))]

    def attach_usdt_site(self, program: Any, site: Any) -> Any:
        """A uprobe on one usdt site (of the -p process, if given), raising its semaphore
        while attached."""
        from pybpf.kernel.attach import attach_usdt_site

        return attach_usdt_site(program.fd, site, pid=self.options.pid if self.options.pid > 0 else -1)

    def attach_watchpoint(self, program: Any, probe: Any) -> Any:
        """A hardware breakpoint in the -p/-c process (following it on every CPU), or
        without one on every CPU (kernel addresses)."""
        from pybpf.kernel.attach import LinkGroup
        from pybpf.kernel.attach.tracing import link_perf_event
        from pybpf.kernel.perf_event import PerfEvent, online_cpus

        address, length, access = watchpoint(probe.point, "")
        pid = self.options.pid if self.options.pid > 0 else self.child_pid
        places = [(pid, -1)] if pid > 0 else [(-1, cpu) for cpu in online_cpus()]
        links: list[Any] = []
        try:
            for pid, cpu in places:
                links.append(link_perf_event(program.fd, PerfEvent.breakpoint(address, length, access, pid=pid,
                                                                                cpu=cpu)))
        except BaseException:
            LinkGroup(links, "").close()
            raise
        return LinkGroup(links, probe.target)

    def run_iterator(self) -> None:
        """An iter: probe runs once over every task (or file), then the run ends, as in
        bpftrace; with a pin name its link is pinned instead (reading the pin runs it)."""
        assert self.iterator is not None
        link, pin = self.iterator
        if pin:
            path = pin if pin.startswith("/") else f"/sys/fs/bpf/{pin}"
            link.pin(path)
            self.write(f"Program pinned to {path}\n")
        else:
            self.write(link.read())  # what bpf_seq_printf wrote: nothing; printf goes through the ring buffer
            self.drain()
        self.exiting = True

    @property
    def probe_count(self) -> int:
        return sum(1 for probe, _ in self.programs if probe.watch is None or probe.watch[0] == "setup")

    def watch(self, index: int, address: int) -> None:
        """A FUNCTION+argN watchpoint's setup uprobe ran: set the breakpoint on the address
        (once per probe and address) and let the stopped process go on (as bpftrace)."""
        from pybpf.kernel.attach.tracing import link_perf_event
        from pybpf.kernel.perf_event import PerfEvent, PerfEventError

        probe, program = self.watch_programs[index]
        pid = self.options.pid if self.options.pid > 0 else self.child_pid
        if (index, address) not in self.watched:
            _, length, access = watchpoint(probe.point, "")
            try:
                link = link_perf_event(program.fd, PerfEvent.breakpoint(address, length, access, pid=pid))
            except PerfEventError as exc:
                if exc.errno != errno.ENOSPC:
                    raise TraceRuntimeError(f"{probe.target}: {exc}") from None
                self.message("lost_events", "Failed to attach watchpoint probe. You are out of watchpoint "
                                            "registers.\n")
                self.watched[(index, address)] = None
            else:
                self.watched[(index, address)] = link
                self.attachments.append(link)
        if probe.point.kind == "watchpoint":
            os.kill(pid, _signal.SIGCONT)

    def unwatch(self, address: int) -> None:
        """unwatch(addr): remove every breakpoint on ``address`` (a later request for it is
        still a duplicate and ignored, as in bpftrace)."""
        for key, link in self.watched.items():
            if key[1] == address and link is not None:
                link.close()
                self.attachments.remove(link)
                self.watched[key] = None

    # -- events ----------------------------------------------------------------------

    def drain(self) -> None:
        records = self.ring.records() if self.ring is not None else self.kernel_maps[RING].drain()
        for record in records:
            if self.exiting or self.interrupted:  # after exit(), bpftrace drops what is still in the buffer
                break
            self.event(bytes(record))

    def discard(self) -> None:
        """Consume every event in the buffer without acting on it."""
        for _ in (self.ring.records() if self.ring is not None else self.kernel_maps[RING].drain()):
            pass

    def settle(self) -> None:
        """Before END: after exit() or a signal, what the probes emitted after it (in the
        buffer behind the exit event, or until they were detached) is dropped, as
        bpftrace drops every event it reads once finalizing; END's own output then prints."""
        if self.exiting or self.interrupted:
            self.discard()
        self.exiting = self.interrupted = False

    def event(self, record: bytes) -> None:
        action = self.compiled.actions[struct.unpack_from("<Q", record)[0]]
        kind = action.kind
        if kind == "exit":
            self.exiting = True
            if action.types:
                self.exit_code = struct.unpack_from("<q", record, 8)[0] & 0xFF
        elif kind == "helper_error":
            self.helper_error(action, struct.unpack_from("<q", record, 8)[0])
        elif kind in ("watch", "unwatch"):
            numbers = struct.unpack_from("<QQ" if kind == "watch" else "<Q", record, 8)
            self.watch(*numbers) if kind == "watch" else self.unwatch(*numbers)
        elif kind in ("printf", "system", "cat"):
            values, at = [], 8
            for t in action.types:
                values.append(decode(t, record, at))
                at += t.slot
            from pybpf.trace.printf import render  # (its formats: for programs that print)

            text = render(action.text, values, action.types, self.show)
            if kind == "printf":
                self.message("printf", text)
            elif kind == "system":
                import subprocess
                self.out.flush()
                ran = subprocess.run(text, shell=True, stdout=subprocess.PIPE, text=True, check=False)
                self.message("syscall", ran.stdout)
            else:
                try:
                    limit = int(os.environ.get("BPFTRACE_CAT_BYTES_MAX", "10240"))
                    with open(text, "rb") as f:
                        self.message("cat", f.read(limit).decode("utf-8", "replace"))
                except OSError as exc:
                    sys.stderr.write(f"ERROR: failed to open file '{text}': {exc.strerror}\n")
        elif kind == "print_value":
            t = action.types[0]
            value = decode(t, record, 8)
            if self.options.format == "json":
                from pybpf.trace.output import json_value
                self.write(f'{{"type": "value", "data": {json_value(value, t, self.show)}}}\n')
            else:
                self.write(self.show(value, t) + "\n")
        elif kind == "join":
            args = []
            for i in range(JOIN_ARGS):
                raw = record[8 + i * JOIN_ARG_SIZE:8 + (i + 1) * JOIN_ARG_SIZE].split(b"\0", 1)[0]
                if not raw:
                    break
                args.append(raw.decode("utf-8", "replace"))
            joined = action.text.join(args)
            self.message("join", joined if self.options.format == "json" else joined + "\n")  # bpftrace's JSON: no \n
        elif kind == "time":
            self.message("time", time.strftime(action.text))
        elif kind == "print_map":
            self.print_map(action.map, action.top, action.div)
        elif kind in ("clear", "zero"):
            info = self.compiled.maps[action.map]
            if not info.keys and info.aggregation in ("count", "sum", "min", "max"):
                kind = "zero"  # bpftrace zeroes keyless aggregations instead of clearing them
            kmap = self.kernel_maps[action.map]
            for key in list(kmap.keys()):
                if kind == "clear":
                    kmap._delete(key)
                else:
                    kmap.update(key, [bytes(kmap.value_size)] * kmap.cpu_count() if kmap.type.per_cpu
                                else bytes(kmap.value_size))

    def helper_error(self, action: Any, retcode: int) -> None:
        """-k's report of a failing helper, in the output as bpftrace writes it."""
        compiled = self.compiled
        if self.options.format == "json":
            line, column = line_column(compiled.source, action.position)
            self.write(f'{{"type": "helper_error", "helper": "{action.text}", "retcode": {retcode}, '
                       f'"line": {line}, "col": {column}}}\n')
            return
        reason = f"Failed to {action.text}: " + (f"{os.strerror(-retcode)} ({retcode})" if retcode < 0 else str(retcode))
        self.write(placed("WARNING", reason, compiled.source, action.position, action.length,
                          compiled.filename) + "\n")

    def show(self, value: object, t: Any, style: str = "text") -> str:
        """A decoded value as bpftrace prints it: symbols and stacks resolved."""
        from pybpf.trace.output import show
        if t.kind in ("ksym", "usym", "kstack", "ustack"):
            return self.symbolize(value, t.kind)
        if t.kind == "inet":
            import socket
            family = struct.unpack_from("<Q", value)[0]
            size = 4 if family == socket.AF_INET else 16
            try:
                return socket.inet_ntop(socket.AF_INET if size == 4 else socket.AF_INET6, value[8:8 + size])
            except (OSError, ValueError):
                return ""
        if t.kind == "mac":
            return ":".join(f"{b:02X}" for b in value[:6])
        if t.kind == "buf":
            length = struct.unpack_from("<Q", value)[0]
            return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in value[8:8 + length])
        if t.kind == "bytes":
            return "[" + ",".join(str(b) for b in value) + "]"
        if t.kind == "timestamp":
            import datetime
            nanoseconds = value + time.time_ns() - time.monotonic_ns()  # type: ignore[operator]
            moment = datetime.datetime.fromtimestamp(nanoseconds // 1_000_000_000)
            micro = f"{value // 1000 % 1_000_000:06d}"  # type: ignore[operator] - bpftrace: from the value itself
            return moment.strftime(t.name.replace("%f", micro))
        if t.kind in ("record", "array"):
            return self.aggregate_text(bytes(value), t, style)  # type: ignore[arg-type]
        if t.kind == "strerror":
            return os.strerror(value)  # type: ignore[arg-type]
        if t.kind == "cgroup_path":
            from pybpf.trace.cgroups import cgroup_path
            return cgroup_path(int(value), t.name)  # type: ignore[call-overload]
        if t.kind == "username":
            import pwd
            try:
                return pwd.getpwuid(int(value)).pw_name  # type: ignore[arg-type]
            except KeyError:
                return str(value)
        if t.kind == "tuple":
            return "(" + ", ".join(self.show(v, i, style) for v, i in zip(value, t.items)) + ")"  # type: ignore[arg-type]
        return show(value, t)

    def aggregate_text(self, data: bytes, t: Any, style: str = "text") -> str:
        """A struct as ``{ .m = 2, .n = 3 }`` and an array as ``[1,2,3]`` (bpftrace's text);
        ``style`` "json": ``{ "m": 2 }``; "key" (in a map key): ``{.m=2,.n=3}``, and array
        elements signed, as bpftrace 0.17 prints keys."""
        json_style = style == "json"
        kernel = self.compiled.kernel
        if t.kind == "array":
            element = kernel.element(t)
            size = kernel.sizeof(element) if element.kind in ("record", "array") else element.size
            items = [self.aggregate_text(data[i:i + size], element, style) if element.kind in ("record", "array")
                     else str(int.from_bytes(data[i:i + size], "little", signed=element.signed or style == "key"))
                     for i in range(0, len(data) - size + 1, size)]
            return "[" + ",".join(items) + "]"
        parts = []
        for name, access in kernel.members(t):
            member_t = access.type
            size = kernel.sizeof(member_t) if member_t.kind in ("record", "array") else member_t.size
            raw = data[access.offset:access.offset + size]
            if member_t.kind in ("record", "array"):
                text = self.aggregate_text(raw, member_t, style)
            elif member_t.kind == "str":
                text = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
                text = f'"{text}"' if json_style else text
            else:
                number = int.from_bytes(raw.ljust(8, b"\0")[:8], "little")
                if access.bit_size:
                    number = (number >> access.bit_offset) & ((1 << access.bit_size) - 1)
                elif member_t.kind == "int" and member_t.signed and size:
                    number = int.from_bytes(raw, "little", signed=True)
                text = str(number)
            parts.append(f'"{name}": {text}' if json_style else f".{name}={text}" if style == "key"
                         else f".{name} = {text}")
        return "{" + ",".join(parts) + "}" if style == "key" else "{ " + ", ".join(parts) + " }"

    def symbolize(self, value: Any, kind: str) -> str:
        if self._symbolizer is None:
            from pybpf.symbols.symbolizer import Symbolizer
            self._symbolizer = Symbolizer()
        symbols = self._symbolizer
        if kind in ("ksym", "usym"):
            address, pid = (value, 0) if kind == "ksym" else value
            try:
                where = symbols.kernel(address) if kind == "ksym" else symbols.user(pid, address)
            except Exception:  # noqa: BLE001 - unreadable symbols: the address
                where = None
            if where is not None and where.name:
                return where.name
            return f"0x{address:x}" if address else "0"  # as C++ streams a void *: null is "0"
        stack_id, pid = (value, 0) if kind == "kstack" else value
        stack_id &= 0xFFFF_FFFF
        raw = self.kernel_maps[STACKS].get(stack_id) if STACKS in self.kernel_maps else None
        lines = [""]
        for (address,) in struct.iter_unpack("<Q", raw or b""):
            if not address:
                break
            try:
                where = symbols.kernel(address) if kind == "kstack" else symbols.user(pid, address)
            except Exception:  # noqa: BLE001
                where = None
            name = f"{where.name}+{where.offset}" if where is not None and where.name else f"0x{address:x}"
            lines.append(" " * 8 + name)
        return "\n".join(lines) + "\n"

    def message(self, kind: str, text: str) -> None:
        """Program output: as is, or as a bpftrace JSON line."""
        if self.options.format == "json":
            import json
            self.write(f'{{"type": "{kind}", "data": {json.dumps(text)}}}\n')
        else:
            self.write(text)

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def print_map(self, name: str, top: int = 0, div: int = 0) -> None:
        from pybpf.trace.output import map_json, map_text
        info = self.compiled.maps[name]
        items = list(self.kernel_maps[name].items())
        if self.options.format == "json":
            line = map_json(info, items, top, div, self.show)
            if line:
                self.write(line + "\n")
        else:
            self.write(map_text(info, items, top, div, self.show))

    def print_all_maps(self) -> None:
        for name in sorted(self.compiled.maps):
            self.print_map(name)

    # -- teardown --------------------------------------------------------------------

    def detach(self) -> None:
        while self.attachments:
            try:
                self.attachments.pop().close()
            except OSError:
                pass

    def close(self) -> None:
        self.detach()
        self.programs.clear()
        if self.ring is not None:
            self.ring.close()
            self.ring = None
        if self.collection is not None:
            self.collection.close()
            self.collection = None
        self.kernel_maps.clear()


def _unit_value(parts: list[str], target: str) -> tuple[str, int]:
    if len(parts) != 2 or not parts[1].isdigit():
        raise TraceRuntimeError(f"{target}: expected UNIT:NUMBER (hz, s, ms, us)")
    return parts[0], int(parts[1])


def _period_ns(parts: list[str], target: str) -> int:
    unit, value = _unit_value(parts, target)
    scale = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1000, "hz": None}.get(unit, -1)
    if scale == -1:
        raise TraceRuntimeError(f"{target}: unknown unit {unit!r} (hz, s, ms, us)")
    if value <= 0:
        raise TraceRuntimeError(f"{target}: the rate must be positive")
    return 1_000_000_000 // value if scale is None else value * scale


class Child:
    """The -c command: forked at once but held before exec until every probe is
    attached (so its pid is known to the program as ``cpid`` and no event is missed).
    ``command`` is a -c string (split as bpftrace splits it: at every space, quotes kept,
    no shell) or an argument vector taken as it is. Between the go and exec the child
    makes bpftrace's child's system calls (an 8-byte read of the go, a close of its
    descriptor), which probes filtered on ``cpid`` see."""

    def __init__(self, command: str | list[str]):
        import shutil
        argv = command.split(" ") if isinstance(command, str) else list(command)
        path = shutil.which(argv[0]) if argv else None
        if path is None:
            raise TraceRuntimeError(f"cannot run -c {command!r}: command not found")
        self.path = path
        read, self._go = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: wait for the go, then become the command
            try:
                os.close(self._go)
                if os.read(read, 8):  # EOF: the trace never started
                    os.close(read)
                    os.execv(path, argv)
            finally:
                os._exit(127)
        os.close(read)
        self.status: int | None = None

    def release(self) -> None:
        if self._go >= 0:
            os.write(self._go, (1).to_bytes(8, "little"))
            os.close(self._go)
            self._go = -1

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def stop(self) -> None:
        if self._go >= 0:
            os.close(self._go)  # the held child reads EOF and exits without running
            self._go = -1
        if not self.exited():
            try:
                os.kill(self.pid, _signal.SIGTERM)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.status = 0


def run(source: str, options: Options, filename: str = "stdin") -> int:
    """Compile and run ``source`` like bpftrace; the exit status."""
    child = Child(options.command) if options.command else None
    try:
        compiled = compile_source(source, options.params, filename, child.pid if child else 0,
                                  unsafe=options.unsafe, pid=max(options.pid, 0),
                                  binary=child.path if child else "", helper_checks=options.helper_checks)
    except BaseException:
        if child is not None:
            child.stop()
        raise
    if options.warnings:
        for warning in compiled.warnings:
            sys.stderr.write(warning + "\n")
    session = Session(compiled, options)
    session.child_pid = child.pid if child is not None else 0
    stop = {"signal": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["signal"] = True
        session.interrupted = True  # a drain under a flood of events ends too

    def on_usr1(signum: int, frame: object) -> None:
        stop["print"] = True

    previous = {s: _signal.signal(s, on_signal) for s in (_signal.SIGINT, _signal.SIGTERM)}
    previous[_signal.SIGUSR1] = _signal.signal(_signal.SIGUSR1, on_usr1)
    try:
        session.load()
        if not options.quiet and options.format == "text":
            count = session.probe_count
            session.write(f"Attaching {count} probe{'s' if count != 1 else ''}...\n")
        elif options.format == "json" and not options.quiet:
            session.write(f'{{"type": "attached_probes", "data": {{"probes": {session.probe_count}}}}}\n')
        if options.verbose:
            session.report_loaded()
        session.run_special("BEGIN")
        session.drain()
        if not session.exiting:
            session.attach()
            if child is not None:
                child.release()
            if os.environ.get("__BPFTRACE_NOTIFY_PROBES_ATTACHED"):
                sys.stderr.write("__BPFTRACE_NOTIFY_PROBES_ATTACHED\n")
                sys.stderr.flush()
            if session.iterator is not None:
                session.run_iterator()
            import select
            poller = select.epoll()
            poller.register(session.ring.fileno(), select.EPOLLIN)
            while not session.exiting and not stop["signal"]:
                poller.poll(0.1)
                session.drain()
                if stop.pop("print", False):  # SIGUSR1: print every map now, as bpftrace does
                    session.print_all_maps()
                if child is not None and child.exited():
                    session.drain()
                    break
                if options.pid > 0 and not os.path.exists(f"/proc/{options.pid}"):
                    break
            poller.close()
        session.detach()
        session.settle()
        session.run_special("END")
        session.drain()
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        session.write("\n\n")
        session.print_all_maps()
        return session.exit_code
    finally:
        if child is not None:
            child.stop()
        session.close()
        for s, handler in previous.items():
            _signal.signal(s, handler)


def run_on_records(source: str, records: list[tuple[str, dict[str, Any]]], formats: dict[str, Any],
                   options: Options | None = None) -> int:
    """Run ``source`` on the vm engine: BEGIN, then each synthetic tracepoint record
    (``("syscalls:sys_enter_openat", {"flags": 1, ...})``, laid out by ``formats``) through
    the probes on that tracepoint, then END and the maps — the output a kernel run with
    those events would print, without root."""
    options = options or Options()
    compiled = compile_source(source, options.params, formats=formats)
    session = Session(compiled, options, engine="vm")
    try:
        session.load()
        if not options.quiet and options.format == "text":
            count = session.probe_count
            session.write(f"Attaching {count} probe{'s' if count != 1 else ''}...\n")
        session.run_special("BEGIN")
        session.drain()
        for name, values in records:
            if session.exiting:
                break
            record = formats[name].encode(values)
            for probe, program in session.programs:
                if probe.target == f"tracepoint:{name}":
                    program.test_run(ctx=record)
                    session.drain()
        session.settle()
        session.run_special("END")
        session.drain()
        session.write("\n\n")
        session.print_all_maps()
        return session.exit_code
    finally:
        session.close()
