"""``pybpf filter``: read, filter, print and save packets as tcpdump does, with pybpf's own
pcap-filter compiler; the flags are tcpdump's where they mean the same.

  pybpf filter -nr capture.pcap 'tcp port 80'           print the matching packets
  pybpf filter -r big.pcap -w web.pcap 'host 10.0.0.1'  save them (pcap)
  pybpf filter -d -y LINUX_SLL 'ip and udp'             print the compiled program
  pybpf filter -i eth0 -c 10 icmp                       capture live (root), filter in the kernel

Files are filtered in native code: classic pcap records are walked in batches and the
program, translated to eBPF, runs in the vm JIT over each batch (see docs/filter.md).
"""

# This module only reads the command line; the application is pybpf.pcapfilter
# (pybpf.pcapfilter.run), imported by the handlers when they run. Registering the parser
# imports nothing beyond argparse, and a plain command line (reading a file, printing
# the program) is read by parse_plain without argparse at all.

from __future__ import annotations

import gc
import sys

from pybpf.errors import PybpfError
from pybpf.pcapfilter import DEFAULT_SNAPLEN

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

    from pybpf.pcapfilter.sinks import PrintStyle

_DUMP_STYLES = {1: "d", 2: "dd", 3: "ddd"}


def _count(text: str) -> int:
    import argparse

    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid packet count {text} (must be 1 or more)")
    return value


def _snaplen(text: str) -> int:
    import argparse

    value = int(text)
    if not 0 <= value <= 0xFFFF_FFFF:
        raise argparse.ArgumentTypeError(f"invalid snapshot length {text}")
    return value or DEFAULT_SNAPLEN         # tcpdump: -s 0 means the default


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``filter`` to the command line."""
    from pybpf.cli import RawDescriptionHelpFormatter

    parser = subparsers.add_parser("filter", description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-r", dest="read", metavar="FILE", help="read packets from a pcap/pcapng file (- for stdin)")
    source.add_argument("-i", dest="interface", metavar="IFACE",
                        help="capture live on an interface (root), the filter attached in the kernel")
    parser.add_argument("-w", dest="write", metavar="FILE", help="write matching packets to a pcap file (- stdout)")
    parser.add_argument("-c", dest="count", type=_count, metavar="N", help="stop after N matching packets")
    parser.add_argument("-y", dest="linktype", metavar="LINKTYPE",
                        help="link type to compile for when no file says (e.g. EN10MB, LINUX_SLL, RAW)")
    parser.add_argument("-s", dest="snaplen", type=_snaplen, metavar="SNAPLEN",
                        help=f"snapshot length for live capture and -d (default and 0: {DEFAULT_SNAPLEN})")
    parser.add_argument("-n", dest="numeric", action="store_true", help="print port numbers, not names")
    parser.add_argument("-e", dest="link_header", action="store_true", help="print the link-layer header")
    parser.add_argument("-x", dest="hex", action="store_true", help="print each packet in hex (after its link header)")
    parser.add_argument("-d", dest="dump", action="count", default=0,
                        help="print the compiled program and exit (-dd: as C, -ddd: as decimal numbers)")
    parser.add_argument("-O", dest="no_optimize", action="store_true", help="do not run the filter optimizer")
    parser.add_argument("-F", dest="filter_file", metavar="FILE", help="read the expression from a file")
    parser.add_argument("-p", dest="no_promisc", action="store_true",
                        help="do not put the interface into promiscuous mode")
    parser.add_argument("expression", nargs="*",
                        help="the filter expression (pcap-filter(7)); put -- before one that starts with -")
    parser.set_defaults(handler=run, filter_parser=parser)


#: what parse_plain reads: flags (store_true), and options taking the next argument (and -d, counted)
_PLAIN_FLAGS = {"n": "numeric", "e": "link_header", "x": "hex", "O": "no_optimize", "p": "no_promisc"}
_PLAIN_VALUES = {"r": "read", "w": "write", "c": "count", "y": "linktype", "s": "snaplen", "F": "filter_file"}


if TYPE_CHECKING:
    _Namespace = argparse.Namespace
else:
    _Namespace = object     # (argparse is not imported to read a plain command line)


class PlainArguments(_Namespace):
    """What argparse's Namespace holds for ``pybpf filter`` (see :func:`parse_plain`):
    handlers take either."""

    def __init__(self) -> None:
        self.command, self.handler = "filter", run
        self.read = self.interface = self.write = self.count = self.linktype = None
        self.snaplen = self.filter_file = None
        self.numeric = self.link_header = self.hex = self.no_optimize = self.no_promisc = False
        self.dump = 0
        self.expression: list[str] = []

    @property
    def filter_parser(self) -> argparse.ArgumentParser:
        """The real parser (for its error messages), built when asked for."""
        import argparse

        from pybpf.cli import build_parser

        parser = build_parser("filter")
        subparsers = parser._subparsers
        assert subparsers is not None
        action = subparsers._group_actions[0]
        assert isinstance(action, argparse._SubParsersAction)
        return action.choices["filter"]


def parse_plain(arguments: list[str]) -> PlainArguments | None:
    """The arguments of ``pybpf filter ARGUMENTS`` read as argparse reads them, for the
    plain command lines that reading files and printing the program use — ``-r FILE``
    or ``-d`` (counted: ``-dd``, ``-d -d``), with any of ``-w -c -y -s -F`` (each followed
    by its value) and ``-n -e -x -O -p`` (alone or grouped, as in ``-nr FILE``), each at
    most once, then the expression's words — without importing argparse (with re, enum,
    gettext and locale, and the parser it builds: ~5 ms of a ~35 ms ``filter -d``).
    ``None`` for anything else (help, ``-i``, ``--``, a value attached to its option or
    starting with ``-``, a count or snapshot length that is not plain digits or is out of
    range, words that start with ``-``): argparse reads those, with its messages."""
    parsed = PlainArguments()
    seen: set[str] = set()
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if not word.startswith("-") or word == "-":
            break
        letters = word[1:]
        if not letters or not all(letter in _PLAIN_FLAGS or letter in _PLAIN_VALUES or letter == "d"
                                  for letter in letters) \
                or any(letter in _PLAIN_VALUES for letter in letters[:-1]):
            return None
        index += 1
        for letter in letters:
            if letter == "d":
                parsed.dump += 1
                continue
            if letter in seen:
                return None
            seen.add(letter)
            if letter in _PLAIN_FLAGS:
                setattr(parsed, _PLAIN_FLAGS[letter], True)
                continue
            if index >= len(arguments):
                return None
            value = arguments[index]
            index += 1
            if value.startswith("-") and value != "-":
                return None
            if letter in "cs":
                if not (value.isascii() and value.isdigit()):
                    return None
                number = int(value)
                if letter == "c":
                    if number <= 0:
                        return None
                elif number > 0xFFFF_FFFF:
                    return None
                else:
                    number = number or DEFAULT_SNAPLEN
                setattr(parsed, _PLAIN_VALUES[letter], number)
            else:
                setattr(parsed, _PLAIN_VALUES[letter], value)
    words = arguments[index:]
    if (parsed.read is None and not parsed.dump) or any(word.startswith("-") for word in words):
        return None
    parsed.expression = words
    return parsed


def run(args: argparse.Namespace) -> int:
    """Dump, read or capture, as the flags say."""
    expression = _expression(args)
    if args.dump:
        return _dump(args, expression)
    if args.read is None and args.interface is None:
        args.filter_parser.error("give -r FILE to read a capture, or -i IFACE to capture live")
    try:
        if args.interface is not None:
            return _live(args, expression)
        return _read(args, expression)
    except BrokenPipeError:                 # `pybpf filter ... | head`
        from pybpf.cli.output import reader_gone

        return reader_gone()


def _expression(args: argparse.Namespace) -> str:
    """The expression: the arguments joined by spaces, or the -F file's whole text with
    ``#`` comments blanked to the end of their line (tcpdump does the same), columns kept
    so that errors point at the right place."""
    if args.filter_file is None:
        return " ".join(args.expression)
    if args.expression:
        print(f"pybpf filter: warning: expression taken from {args.filter_file}; "
              f"ignoring {' '.join(args.expression)!r}", file=sys.stderr)
    try:
        with open(args.filter_file, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise PybpfError(f"{args.filter_file}: cannot read the filter file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PybpfError(f"{args.filter_file}: byte {exc.start}: the filter file is not UTF-8 text") from None
    import re

    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), text)


def _dump(args: argparse.Namespace, expression: str) -> int:
    from pybpf.cbpf import dump
    from pybpf.pcapfilter.run import program_for

    program = program_for(expression, read=args.read, interface=args.interface, linktype=args.linktype,
                          snaplen=args.snaplen or DEFAULT_SNAPLEN, optimize=not args.no_optimize)
    sys.stdout.write(dump(program, _DUMP_STYLES[min(args.dump, 3)]))
    return 0


def _style(args: argparse.Namespace) -> PrintStyle:
    from pybpf.pcapfilter.sinks import PrintStyle

    return PrintStyle(args.numeric, args.link_header, args.hex)


def _read(args: argparse.Namespace, expression: str) -> int:
    # Reading a file is a run of bounded length whose start (imports, cached programs
    # loaded) makes tens of thousands of objects and no cycles of garbage: without the
    # cyclic collector passing over them, ~4 ms less of a ~50 ms start.
    gc.disable()
    try:
        from pybpf.pcapfilter.run import filter_file

        filter_file(args.read, expression, write=args.write, count=args.count, optimize=not args.no_optimize,
                    style=_style(args))
    finally:
        gc.enable()
    return 0


def _live(args: argparse.Namespace, expression: str) -> int:
    from pybpf.pcapfilter.run import capture_live

    capture_live(args.interface, expression, write=args.write, count=args.count,
                 snaplen=args.snaplen or DEFAULT_SNAPLEN, optimize=not args.no_optimize,
                 promisc=not args.no_promisc, linktype=args.linktype, style=_style(args))
    return 0
