"""The ``pybpf`` command: one sub-command per module in this package.

Each module named in :data:`COMMANDS` defines ``register(subparsers)``, which adds its
parser and sets ``handler`` (a function of the parsed args returning an exit code).
Errors from bad input (:class:`~pybpf.errors.PybpfError`, unreadable files) become one
line on stderr and exit status 1; argparse's own usage errors exit with 2.

argparse is imported only to build a parser: a plain command line (exact option names,
their values as separate words, no help) is read by :func:`pybpf.cli.plainargs.parse`
from what the command's ``register`` declares, without argparse (with re, enum, gettext
and locale, and the parser it builds: ~9 ms of every run); everything else — help,
errors, other forms — goes through argparse as before.
"""

from __future__ import annotations

import os
import sys

from pybpf import __version__
from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from pybpf.cli.plainargs import Namespace

#: sub-command modules, in the order ``pybpf --help`` lists them
COMMANDS: tuple[str, ...] = ("run", "load", "asm", "disasm", "probe", "prog", "map", "filter", "cc", "btf",
                            "verify", "replay", "trace", "tool", "record", "report", "export")
#: each command's line in ``pybpf --help``: the list is made from here, without importing
#: the seventeen modules to build parsers it does not show (~20 ms)
SUMMARIES: dict[str, str] = {
    "run": "test-run a program on the kernel or the vm",
    "load": "load every program and map of an object and report",
    "asm": "assemble eBPF assembly into raw instructions",
    "disasm": "disassemble raw instructions or an ELF program",
    "probe": "list the BPF features of this kernel",
    "prog": "list, show and pin loaded BPF programs",
    "map": "list, show, dump and edit loaded BPF maps",
    "filter": "filter, print and save packets (tcpdump's flags)",
    "cc": "compile C to a BPF object",
    "btf": "print BTF type information as C or as a listing",
    "verify": "check a program against the kernel's verifier rules, no root needed",
    "replay": "run a packet program over every packet of a capture",
    "trace": "run a bpftrace program",
    "tool": "run a tracing tool (execsnoop, opensnoop, syscount, ...)",
    "record": "record a tool's events to a CTF, Chrome or JSON-lines file",
    "report": "summarise a recording",
    "export": "serve BPF maps as Prometheus metrics",
}


#: commands whose objects are left to the process's exit, not to a last pass of the
#: cyclic garbage collector over them (see :func:`main`): their handlers close and detach
#: what they made (``with`` and ``finally`` blocks) and write their files before returning
FROZEN_AT_EXIT = frozenset({"filter", "run", "load", "verify", "replay", "trace"})


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and through it
    zlib, bz2 and lzma: ~2 ms of every run), for help formatters."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _formatters() -> dict[str, type]:
    """:class:`HelpFormatter` and :class:`RawDescriptionHelpFormatter`, made on first use
    (they subclass argparse's classes, and argparse is imported only to build a parser)."""
    if _MADE:
        return _MADE
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        """argparse's formatter, its width found as argparse finds it (minus 2) but without
        shutil: argparse makes a formatter for every argument added to a parser."""

        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None):
            super().__init__(prog, indent_increment, max_help_position,
                             terminal_columns() - 2 if width is None else width)

    class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
        """:class:`HelpFormatter` keeping the description's line breaks."""

    class ArgumentParser(argparse.ArgumentParser):
        """argparse's parser, formatting its help with :class:`HelpFormatter` unless told
        otherwise; sub-command parsers are of this class too (argparse's own formatter
        would import shutil, and with it zlib, bz2 and lzma, for every ``COMMAND --help``).
        ``strict=True`` makes arguments it does not know its own error, with its usage,
        not the top level's."""

        def __init__(self, *args: Any, strict: bool = False, **kwargs: Any):
            kwargs.setdefault("formatter_class", HelpFormatter)
            super().__init__(*args, **kwargs)
            self.strict = strict

        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            found, extra = super().parse_known_args(args, namespace)
            if extra and self.strict:
                self.error(f"unrecognized arguments: {' '.join(extra)}")
            return found, extra

    made = {"HelpFormatter": HelpFormatter, "RawDescriptionHelpFormatter": RawDescriptionHelpFormatter,
            "ArgumentParser": ArgumentParser}
    for cls in made.values():
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    _MADE.update(made)
    return _MADE


_MADE: dict[str, type] = {}


class _Formatter:
    """A ``formatter_class`` for add_parser: argparse only calls it to make a formatter,
    and this makes the argparse subclass of its name then, so that a command's
    ``register`` names it without importing argparse (plainargs records register()
    without argparse)."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> argparse.HelpFormatter:
        return _formatters()[self.name](*args, **kwargs)


HelpFormatter = _Formatter("HelpFormatter")
RawDescriptionHelpFormatter = _Formatter("RawDescriptionHelpFormatter")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with the command ``only`` registered (its module's parser);
    without ``only``, the parser that lists every command (``pybpf --help``, errors),
    each with its line from :data:`SUMMARIES` and no arguments of its own."""
    import importlib

    parser = _formatters()["ArgumentParser"](prog="pybpf", description="BPF, all of it, from Python.")
    parser.add_argument("--version", action="version", version=f"pybpf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        if only is None and name in SUMMARIES:
            sub.add_parser(name, help=SUMMARIES[name])
        else:
            importlib.import_module(f"pybpf.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--version"]:      # without building every sub-command's parser
        print(f"pybpf {__version__}")
        return 0
    args: argparse.Namespace | Namespace | None = None
    # a plain command line, without argparse (help, which argparse prints, without trying)
    if arguments and arguments[0] in COMMANDS and "-h" not in arguments and "--help" not in arguments:
        from pybpf.cli.plainargs import parse

        args = parse(arguments[0], arguments[1:])
    if args is None:
        # ``pybpf COMMAND ...`` needs only COMMAND's parser: building all of them (and
        # importing their modules) is ~20 ms of every run. Anything else (--help, --version,
        # a mistyped command) gets the parser listing every command, and its messages.
        parser = build_parser(arguments[0] if arguments and arguments[0] in COMMANDS else None)
        args = parser.parse_args(arguments)
    # here, not at the top: signal imports enum (~4 ms) that --version and filter need not pay
    from pybpf.termination import sigterm_as_sigint

    with sigterm_as_sigint():   # killed: release kernel and system objects as on Ctrl-C
        status = _handle(args)
    if argv is None and args.command in FROZEN_AT_EXIT:
        # This process's own command, which exits next: Python's exit passes over every
        # object left (the imports' tens of thousands) looking for cycles, ~3 ms of a
        # ~30 ms ``pybpf filter`` run and 3-5 ms of ``run``, for nothing: what they opened
        # (files, maps and programs in the kernel or the vm) is closed and written.
        import gc

        gc.freeze()
    return status


def _handle(args: argparse.Namespace | Namespace) -> int:
    """Run the parsed command; bad input becomes one line on stderr and exit status 1."""
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
