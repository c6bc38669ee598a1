"""The ``pybpf`` command: one sub-command per module in this package.

Each module named in :data:`COMMANDS` defines ``register(subparsers)``, which adds its
parser and sets ``handler`` (a function of the parsed args returning an exit code).
Errors from bad input (:class:`~pybpf.errors.PybpfError`, unreadable files) become one
line on stderr and exit status 1; argparse's own usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pybpf import __version__
from pybpf.errors import PybpfError

#: sub-command modules, in the order ``pybpf --help`` lists them
COMMANDS: tuple[str, ...] = ("run", "load", "asm", "disasm", "probe", "prog", "map", "filter", "cc", "btf")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="pybpf", description="BPF, all of it, from Python."
    )
    parser.add_argument("--version", action="version", version=f"pybpf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"pybpf.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PybpfError as exc:
        print(f"pybpf {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"pybpf {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
