"""``pybpf trace``: bpftrace's language, compiled to eBPF in Python.

    pybpf trace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
    pybpf trace FILE.bt [ARG ...]      pybpf trace -l 'tracepoint:syscalls:*open*'
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``trace`` to the command line (bpftrace's options)."""
    parser = subparsers.add_parser("trace", help="run a bpftrace program", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-e", dest="program", metavar="PROGRAM", help="the program text")
    parser.add_argument("-l", dest="list", nargs="?", const="*", metavar="GLOB", help="list probes matching GLOB")
    parser.add_argument("-c", dest="command", metavar="CMD", help="run CMD and trace until it exits")
    parser.add_argument("-p", dest="pid", type=int, default=-1, metavar="PID", help="trace only this process")
    parser.add_argument("-o", dest="output", metavar="FILE", help="write the program's output to FILE")
    parser.add_argument("-f", dest="format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("-B", dest="buffering", choices=("line", "full", "none"), default="line",
                        help="output buffering")
    parser.add_argument("-q", dest="quiet", action="store_true", help="no 'Attaching N probes...'")
    parser.add_argument("-v", dest="verbose", action="store_true", help="with -l: tracepoint arguments")
    parser.add_argument("-k", dest="warnings", action="count", default=0, help="report helper errors (accepted)")
    parser.add_argument("--unsafe", action="store_true", help="allow system()")
    parser.add_argument("--info", action="store_true", help="what this build supports")
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument("--include", action="append", metavar="FILE",
                        help="accepted for bpftrace compatibility (C headers are not read: types come from BTF)")
    parser.add_argument("--no-warnings", action="store_true", help="no warnings")
    parser.add_argument("-d", dest="debug", metavar="WHAT", help="print the generated eBPF instructions")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="program file, then positional parameters")
    parser.set_defaults(handler=run)


def _list(pattern: str, verbose: bool) -> int:
    import fnmatch

    from pybpf.tracefs import Tracefs

    tracefs = Tracefs()
    kind, _, rest = pattern.partition(":")
    if kind in ("t", "tracepoint") or (kind and not rest and "*" in kind) or kind == "*":
        glob = rest if kind in ("t", "tracepoint") else pattern if kind != "*" else "*"
        if ":" not in glob:
            glob = f"{glob}:*" if glob not in ("*",) else "*:*"
        names = [n for n in sorted(tracefs.events) if fnmatch.fnmatchcase(n, glob)]
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
                print(f"    {decl};")
    return 0


def run(args: argparse.Namespace) -> int:
    from pybpf.trace.errors import TraceError
    from pybpf.trace.runtime import Options
    from pybpf.trace.runtime import run as run_program

    if args.version:
        from pybpf import __version__
        print(f"pybpf trace v{__version__}")
        return 0
    if args.info:
        import platform
        print(f"System\n  OS: {platform.system()} {platform.release()}\n  Arch: {platform.machine()}\n"
              "\nBuild\n  code generator: pybpf (no LLVM)\n")
        return 0
    rest = list(args.args)
    if args.list is not None:
        return _list(args.list if args.list != "*" or not rest else rest[0], args.verbose)
    if args.program is not None:
        source, filename = args.program, "stdin"
    elif rest:
        filename = rest.pop(0)
        with open(filename) as f:
            source = f.read()
    else:
        print("pybpf trace: error: filename or -e 'program' required", file=sys.stderr)
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
    output = sys.stdout
    if args.output:
        output = open(args.output, "w")
    elif args.buffering == "full":
        output = open(sys.stdout.fileno(), "w", closefd=False, buffering=1 << 16)
    options = Options(params=rest, output=output, format=args.format, pid=args.pid, command=args.command,
                      quiet=args.quiet, unsafe=args.unsafe)
    try:
        return run_program(source, options, filename)
    except TraceError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        if output is not sys.stdout:
            output.close()
