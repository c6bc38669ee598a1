"""``pybpf cc PROG.c [-o PROG.o] [-I DIR] [-D NAME[=VAL]] [--clang PATH]``: compile a C
program to a BPF object with the clang from the ziglang wheel (or a system clang), with
``<pybpf/bpf.h>`` and ``<vmlinux.h>`` on the include path. clang's messages are printed
as ``file:line:col: level: message``; a failed compile exits 1 and writes no object."""

from __future__ import annotations

import sys

from pybpf.cli.output import atomic_output
from pybpf.errors import PybpfError
from pybpf.toolchain.paths import KERNEL_BTF

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cc`` to the command line."""
    parser = subparsers.add_parser("cc", description=__doc__)
    parser.add_argument("file", help="the C program")
    parser.add_argument("-o", "--output", metavar="OUT", help="the object to write (default: PROG.o here)")
    parser.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                        help="search DIR for headers (repeatable)")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VAL]",
                        help="define a macro (repeatable; VAL defaults to 1)")
    parser.add_argument("--clang", metavar="PATH", help="use this clang instead of the ziglang one")
    parser.add_argument("--btf", default=KERNEL_BTF, metavar="PATH",
                        help=f"BTF that <vmlinux.h> is generated from (default: {KERNEL_BTF})")
    parser.set_defaults(handler=run)


def parse_define(text: str) -> tuple[str, str]:
    """``NAME=VAL`` → (NAME, VAL); ``NAME`` → (NAME, "1"), as clang reads ``-D``."""
    name, equals, value = text.partition("=")
    if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise PybpfError(f"-D {text}: {name!r} is not a macro name")
    return name, value if equals else "1"


def run(args: argparse.Namespace) -> int:
    """Compile, print clang's messages, write the object only on success."""
    from pathlib import Path

    from pybpf.toolchain import CompileError, compile_object

    defines = dict(parse_define(d) for d in args.defines)
    output = args.output or Path(args.file).with_suffix(".o").name
    try:
        result = compile_object(Path(args.file), include_dirs=args.include_dirs, defines=defines,
                                clang=args.clang, vmlinux_btf=args.btf)
    except CompileError as exc:
        if not exc.diagnostics:
            raise
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    for diagnostic in result.diagnostics:
        print(diagnostic, file=sys.stderr)
    with atomic_output(output) as out:
        out.write(result.data)
    return 0
