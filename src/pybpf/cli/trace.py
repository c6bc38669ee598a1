"""``pybpf trace``: bpftrace's language, compiled to eBPF in Python.

    pybpf trace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
    pybpf trace FILE.bt [ARG ...]      pybpf trace -l 'tracepoint:syscalls:*open*'
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

USAGE = """USAGE:
    pybpf trace [options] filename
    pybpf trace [options] - <stdin input>
    pybpf trace [options] -e 'program'"""
SOFTWARE_EVENTS = ("alignment-faults", "bpf-output", "context-switches", "cpu-clock", "cpu-migrations", "dummy",
                   "emulation-faults", "major-faults", "minor-faults", "page-faults", "task-clock")
HARDWARE_EVENTS = ("backend-stalls", "branch-instructions", "branch-misses", "bus-cycles", "cache-misses",
                   "cache-references", "cpu-cycles", "frontend-stalls", "instructions", "ref-cycles")
PID_MAX = 4194304


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``trace`` to the command line (bpftrace's options)."""
    from pybpf.cli import RawDescriptionHelpFormatter  # made on first use: typed as a plain ``type``

    # strict: unknown options are this command's error (with its usage), not the top level's
    parser = subparsers.add_parser("trace", description=__doc__, usage=USAGE,
                                   formatter_class=RawDescriptionHelpFormatter, strict=True)
    parser.add_argument("-e", dest="program", metavar="PROGRAM", help="the program text")
    parser.add_argument("-l", dest="list", nargs="?", const="*", metavar="GLOB", help="list probes matching GLOB")
    parser.add_argument("-c", dest="command", metavar="CMD", help="run CMD and trace until it exits")
    parser.add_argument("-p", dest="pid", metavar="PID", help="trace only this process")
    parser.add_argument("-o", dest="output", metavar="FILE", help="write the program's output to FILE")
    parser.add_argument("-f", dest="format", default="text", metavar="FORMAT", help="output format: text or json")
    parser.add_argument("-B", dest="buffering", choices=("line", "full", "none"), default="line",
                        help="output buffering")
    parser.add_argument("-q", dest="quiet", action="store_true", help="no 'Attaching N probes...'")
    parser.add_argument("-v", dest="verbose", action="store_true", help="verbose: each program's verifier log (with -l: tracepoint arguments)")
    parser.add_argument("-k", dest="warnings", action="count", default=0, help="warn when a helper fails (-kk: reads and lookups too)")
    parser.add_argument("--unsafe", action="store_true", help="allow system()")
    parser.add_argument("--info", action="store_true", help="what this build supports")
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument("--include", action="append", metavar="FILE",
                        help="accepted for bpftrace compatibility (C headers are not read: types come from BTF)")
    parser.add_argument("--no-warnings", action="store_true", help="no warnings")
    parser.add_argument("--usdt-file-activation", action="store_true",
                        help="accepted: usdt semaphores are always raised in every process mapping the file "
                             "(the kernel's uprobe reference counter does it)")
    parser.add_argument("-d", dest="debug", metavar="WHAT", help="print the generated eBPF instructions")
    parser.add_argument("args", nargs="...", help="program file, then positional parameters")  # argparse.REMAINDER
    parser.set_defaults(handler=run, options_parser=parser)


def _list(pattern: str, verbose: bool, pid: int = 0) -> int:
    import fnmatch
    import re

    from pybpf.tracefs import Tracefs

    if not re.fullmatch(r"[\w:*?\[\]./+\-,{} ]*", pattern):
        bad = next(c for c in pattern if not re.fullmatch(r"[\w:*?\[\]./+\-,{} ]", c))
        print(f"ERROR: invalid character '{bad}' in search expression", file=sys.stderr)
        return 1
    for kind, events in (("software", SOFTWARE_EVENTS), ("hardware", HARDWARE_EVENTS)):
        for event in events:
            name = f"{kind}:{event}:"
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + "*") or (
                    ":" not in pattern and fnmatch.fnmatchcase(kind, pattern)):
                print(name)
    kind, _, rest = pattern.partition(":")
    if pid:  # one process's probes: the usdt probes and functions of its executable and libraries
        wanted = rest.partition(":")[2]
        status = 0
        if fnmatch.fnmatchcase("usdt", kind):
            status |= _list_usdt("", *(wanted.split(":", 1) if wanted else ()), pid=pid, none_ok=True)
        if fnmatch.fnmatchcase("uprobe", kind):
            status |= _list_functions("uprobe", "", wanted or "*", pid=pid)
        return status
    if kind in ("usdt", "U") and rest:
        return _list_usdt(*rest.split(":", 2))
    if kind in ("uprobe", "uretprobe", "u", "ur") and ":" in rest:
        return _list_functions("uretprobe" if kind in ("uretprobe", "ur") else "uprobe", *rest.rsplit(":", 1))
    if any(c in kind for c in "*?[") and ":" in rest and rest[:1] in "./":  # '*:FILE:*': a file's probes
        binary, _, wanted = rest.partition(":")
        status = 0
        if fnmatch.fnmatchcase("uprobe", kind):
            status |= _list_functions("uprobe", binary, wanted.rpartition(":")[2] or "*")
        if fnmatch.fnmatchcase("usdt", kind):
            status |= _list_usdt(binary, *(wanted.split(":", 1) if wanted else ()), none_ok=True)
        return status
    tracefs = Tracefs()
    if kind in ("t", "tracepoint") or (kind and not rest and "*" in kind) or kind == "*":
        glob = rest if kind in ("t", "tracepoint") else pattern if kind != "*" else "*"
        if ":" not in glob:
            glob = f"{glob}:*" if glob not in ("*",) else "*:*"
        names = [n for n in sorted(tracefs.events) if fnmatch.fnmatchcase(n, glob) or
                 (not rest and fnmatch.fnmatchcase(f"tracepoint:{n}", pattern))]  # '*sched_switch*': whole names
    else:
        names = [n for n in sorted(tracefs.events) if fnmatch.fnmatchcase(f"tracepoint:{n}", pattern)]
    for name in names:
        print(f"tracepoint:{name}")
        if verbose:
            for f in tracefs.format(name).fields:
                if f.name.startswith("common_"):
                    continue
                if f.dynamic:
                    decl = f"__data_loc {f.type}[] {f.name}"
                else:
                    decl = f"{f.type} {f.name}" + (f"[{f.array_len}]" if f.array_len else "")
                print(f"    {decl}")
    return 0


def _list_usdt(binary: str, *names: str, pid: int = 0, none_ok: bool = False) -> int:
    """``usdt:BINARY[:[PROVIDER:]NAME]``: the binary's (or process's) usdt probes that match
    (``none_ok``: a file without any is no error, when listing every kind of probe)."""
    from pybpf.trace.errors import TraceError
    from pybpf.trace.runtime import usdt_sites

    provider, name = names if len(names) == 2 else ("*", names[0] if names else "*")
    try:
        found = {target for target, _site in usdt_sites(binary, provider, name, pid)}
    except TraceError as exc:
        if none_ok and "no USDT probe matches" in str(exc):
            return 0
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print("\n".join(sorted(found)))
    return 0


def _list_functions(kind: str, binary: str, glob: str, *, pid: int = 0) -> int:
    """``uprobe:BINARY:GLOB``: the functions of an ELF file (or library name; with
    ``pid``, of the process's executable and libraries) that match."""
    import fnmatch
    import glob as files
    import os

    from pybpf.symbols import ElfSymbols, SymbolError, find_library
    from pybpf.trace.errors import TraceError
    from pybpf.trace.runtime import process_binaries

    try:
        if pid:
            paths = process_binaries(pid)
        elif any(c in binary for c in "*?["):  # a glob over files: the executables it matches
            paths = sorted(p for p in files.glob(binary) if os.path.isfile(p) and os.access(p, os.X_OK))
        else:
            paths = [binary if "/" in binary else find_library(binary)]
        for path in paths:
            for name in sorted(set(ElfSymbols(path).names())):
                if fnmatch.fnmatchcase(name, glob or "*"):
                    print(f"{kind}:{path if pid or '/' in binary else binary}:{name}")
    except (SymbolError, TraceError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    from pybpf.trace.errors import TraceError
    from pybpf.trace.runtime import LOG_SIZE, Options
    from pybpf.trace.runtime import run as run_program

    rest = list(args.args)
    if args.program is None and len(rest) > 1 and rest[1].startswith("-") and rest[1] != "-":
        # bpftrace's getopt takes options after the program file too (FILE.bt -c CMD)
        args.options_parser.parse_args(rest[1:], namespace=args)
        args.args = [rest[0], *args.args]
    if args.version:
        from pybpf import __version__
        print(f"pybpf trace {__version__} (bpftrace v0.17 language)")
        return 0
    if args.info:
        return _info()
    if args.format not in ("text", "json"):
        print(f'ERROR: Invalid output format "{args.format}"\nValid formats: json, text', file=sys.stderr)
        return 1
    pid = -1
    if args.pid is not None:
        if not args.pid.isdigit():
            print(f"ERROR: pid '{args.pid}' is not a valid decimal number", file=sys.stderr)
            return 1
        pid = int(args.pid)
        if not 1 <= pid <= PID_MAX:
            print(f"ERROR: pid '{args.pid}' out of valid pid range [1,{PID_MAX}]", file=sys.stderr)
            return 1
    rest = list(args.args)
    if args.list is not None:
        if args.list == "v":  # -lv: the verbose flag glued to -l
            args.list, args.verbose = "*", True
        return _list(args.list if args.list != "*" or not rest else rest[0], args.verbose, max(pid, 0))
    if args.program is not None:
        source, filename = args.program, "stdin"
    elif rest:
        filename = rest.pop(0)
        try:
            if filename == "-":
                source, filename = sys.stdin.read(), "stdin"
            else:
                with open(filename) as f:
                    source = f.read()
        except UnicodeDecodeError as exc:
            print(f"ERROR: failed to read file '{filename}': byte {exc.start} is not UTF-8 text", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"ERROR: failed to open file '{filename}': {exc.strerror}", file=sys.stderr)
            return 1
    else:
        print(f"ERROR: filename or -e 'program' required\n{USAGE}", file=sys.stderr)
        return 1
    if args.debug:
        from pybpf.isa import format_instruction
        from pybpf.trace.runtime import compile_source
        compiled = compile_source(source, rest, filename)
        for probe in compiled.probes:
            print(f"{probe.target}:")
            for ins in probe.instructions:
                print(f"  {format_instruction(ins)}")
        return 0
    _name_process()
    _show_script_as_command()
    output = sys.stdout
    if args.output:
        output = open(args.output, "w")
    elif args.buffering == "full":
        output = open(sys.stdout.fileno(), "w", closefd=False, buffering=1 << 16)
    log_size = os.environ.get("BPFTRACE_LOG_SIZE", str(LOG_SIZE)).strip()
    if not log_size.isdigit():
        print("ERROR: Env var 'BPFTRACE_LOG_SIZE' did not contain a valid uint64_t, or was zero-valued.",
              file=sys.stderr)
        return 1
    options = Options(params=rest, output=output, format=args.format, pid=pid, command=args.command,
                      quiet=args.quiet, unsafe=args.unsafe, helper_checks=min(args.warnings, 2),
                      warnings=not args.no_warnings, verbose=args.verbose, log_size=int(log_size))
    try:
        return run_program(source, options, filename)
    except TraceError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        if output is not sys.stdout:
            output.close()


def _name_process() -> None:
    """The tracer's own comm (what BEGIN and END see as ``comm``, as bpftrace's see
    ``bpftrace``): the name it was run by (``pybpf`` from the installed entry point,
    ``bpftrace`` from a drop-in script of that name), but ``pybpf`` instead of a bare
    interpreter's name (``python -m pybpf``), which says nothing about the tracer."""
    import ctypes
    import re

    try:
        with open("/proc/self/comm") as f:
            comm = f.read().strip()
    except OSError:
        return
    if re.fullmatch(r"python[\d.]*", comm):
        pr_set_name = 15
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_name, b"pybpf", 0, 0, 0)


def _show_script_as_command() -> None:
    """Run as a script (``#!python`` in a file named ``bpftrace``, or the ``pybpf`` entry
    point), the process's command line starts with the interpreter (``python ./bpftrace
    -e ...``), so ``pidof bpftrace`` (which matches argv[0] and the executable, not the
    comm) cannot find it, as it finds a native tracer. Drop the interpreter from the
    kernel's copy of the arguments, as setproctitle does: the strings move to the start
    of the same area, and the area ends where they do (PR_SET_MM_ARG_END, root only) or,
    where the kernel refuses that, is padded with NULs."""
    import ctypes

    try:
        with open("/proc/self/cmdline", "rb") as f:
            cmdline = f.read()
        with open("/proc/self/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return
    words = cmdline.split(b"\0")
    if len(words) < 2 or not sys.argv or words[1] != os.fsencode(sys.argv[0]) \
            or not os.path.basename(words[0]).startswith(b"python"):
        return  # not an interpreter running a script (python -m pybpf, a frozen binary...)
    arg_start, arg_end = int(fields[45]), int(fields[46])  # fields 48 and 49 of stat
    if arg_end - arg_start != len(cmdline) or ctypes.string_at(arg_start, len(cmdline)) != cmdline:
        return
    shift = len(words[0]) + 1
    ctypes.memmove(arg_start, cmdline[shift:] + bytes(shift), len(cmdline))
    pr_set_mm, pr_set_mm_arg_end = 35, 9
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_mm, *map(ctypes.c_ulong, (pr_set_mm_arg_end, arg_end - shift, 0, 0)))


def _info() -> int:
    """The system, and what the kernel lets pybpf trace use (probed now)."""
    import platform

    from pybpf.isa.helpers import HELPER_IDS
    from pybpf.kernel.features import helper_available, map_type
    from pybpf.object import MapType, ProgramType

    print(f"System\n  OS: {platform.system()} {platform.release()}\n  Arch: {platform.machine()}\n")
    print("Build\n  code generator: pybpf (eBPF emitted directly, no LLVM)\n  btf: yes\n")
    print("Kernel helpers")
    for name in ("probe_read", "probe_read_str", "probe_read_kernel", "probe_read_user_str", "get_current_cgroup_id",
                 "send_signal", "get_stackid", "ringbuf_output", "get_current_task", "loop", "for_each_map_elem",
                 "map_lookup_percpu_elem"):
        yes = helper_available(ProgramType.KPROBE, HELPER_IDS[name])
        print(f"  {name}: {'yes' if yes else 'no'}")
    print("\nMap types")
    for kind in (MapType.HASH, MapType.PERCPU_HASH, MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.STACK_TRACE,
                 MapType.PERF_EVENT_ARRAY, MapType.RINGBUF):
        print(f"  {kind}: {map_type(kind)}")
    print("\nProbe types")  # iterators exist where the kernel's BTF has their target function
    from pybpf.btf import Kind
    from pybpf.kernel.btf_targets import vmlinux
    for target in ("task", "task_file"):
        print(f"  iter:{target}: {'yes' if vmlinux().find(f'bpf_iter_{target}', Kind.FUNC) else 'no'}")
    return 0
