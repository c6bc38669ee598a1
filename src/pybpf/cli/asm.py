"""``pybpf asm FILE [-o OUT]``: assemble either syntax into raw little-endian instructions."""

from __future__ import annotations

import argparse
from pathlib import Path

from pybpf.cli.output import atomic_output
from pybpf.errors import PybpfError

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``asm`` to the command line."""
    parser = subparsers.add_parser("asm", help="assemble eBPF assembly into raw instructions",
                                   description=__doc__)
    parser.add_argument("file", help="assembly text (C-like verifier-log syntax or uBPF mnemonics)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Assemble first, so a syntax error never leaves a partial output file."""
    from pybpf.isa import assemble, encode

    data = Path(args.file).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise PybpfError(f"{args.file}: line {line}: not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})") from None
    code = encode(assemble(text))
    with atomic_output(args.output) as out:
        out.write(code)
    return 0
