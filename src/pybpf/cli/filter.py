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
# imports nothing, and a plain command line (reading a file, printing the program) is
# read from its declarations without argparse (pybpf.cli.plainargs).

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
