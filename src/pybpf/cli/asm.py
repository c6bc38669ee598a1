"""``pybpf asm FILE [-o OUT]``: assemble either syntax into raw little-endian instructions."""

from __future__ import annotations

from pybpf.cli.output import atomic_output

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``asm`` to the command line."""
    parser = subparsers.add_parser("asm", description=__doc__)
    parser.add_argument("file", help="assembly text (C-like verifier-log syntax or uBPF mnemonics)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Assemble first, so a syntax error never leaves a partial output file."""
    from pybpf.errors import PybpfError
    from pybpf.isa import assemble, encode
    from pybpf.object.source import source_text

    try:
        with open(args.file, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise PybpfError(f"{args.file}: cannot read: {exc.strerror}") from None
    code = encode(assemble(source_text(args.file, data)))
    with atomic_output(args.output) as out:
        out.write(code)
    return 0
