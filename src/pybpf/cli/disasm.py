"""``pybpf disasm FILE``: print a raw instruction file (or an ELF object's program) in the
C-like syntax, numbered by slot as the kernel's verifier log numbers them."""

from __future__ import annotations

from pybpf.cli.output import atomic_output

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``disasm`` to the command line."""
    parser = subparsers.add_parser("disasm", description=__doc__)
    parser.add_argument("file", help="raw little-endian instructions, or a BPF ELF object")
    parser.add_argument("--section", help="the ELF program to print (section or function name)")
    parser.add_argument("--labels", action="store_true", help="name jump targets instead of offsets")
    parser.add_argument("--no-numbers", action="store_true", help="omit the slot numbers")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the program."""
    from pybpf.cli.program_input import read_program_file
    from pybpf.isa import disassemble

    program = read_program_file(args.file, args.section)
    text = disassemble(program.instructions, labels=args.labels, numbered=not args.no_numbers)
    with atomic_output(args.output) as out:
        out.write(text.encode())
    return 0
