"""``pybpf filter``: read, filter, print and save packets as tcpdump does, with pybpf's own
pcap-filter compiler; the flags are tcpdump's where they mean the same.

  pybpf filter -nr capture.pcap 'tcp port 80'           print the matching packets
  pybpf filter -r big.pcap -w web.pcap 'host 10.0.0.1'  save them (pcap)
  pybpf filter -d -y LINUX_SLL 'ip and udp'             print the compiled program
  pybpf filter -i eth0 -c 10 icmp                       capture live (root), filter in the kernel

Files are filtered in native code: classic pcap records are walked in batches and the
program, translated to eBPF, runs in the vm JIT over each batch (see docs/filter.md).
"""

# Registering the parser imports nothing beyond argparse: ``pybpf`` builds every
# command's parser on each run, so the capture, filter and JIT modules are imported by
# the functions that use them (and only those a given run needs: no summaries with -w).
# A plain command line is read by parse_plain without argparse at all.

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from typing import BinaryIO

    from pybpf.capture import CaptureFile, Packet
    from pybpf.cli.progress import Progress
    from pybpf.pcapfilter.batch import RecordBatch, RecordBatches
    from pybpf.pcapfilter.matcher import Matcher

DEFAULT_SNAPLEN = 262144
#: packets decoded one at a time (pcapng files) are filtered this many at once
GROUP = 1024
#: the most threads that filter one file
MAX_THREADS = 4
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

    parser = subparsers.add_parser("filter", help="filter, print and save packets (tcpdump's flags)",
                                   description=__doc__, formatter_class=RawDescriptionHelpFormatter)
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


#: what parse_plain reads: flags (store_true), and options taking the next argument
_PLAIN_FLAGS = {"n": "numeric", "e": "link_header", "x": "hex", "O": "no_optimize", "p": "no_promisc"}
_PLAIN_VALUES = {"r": "read", "w": "write", "c": "count", "y": "linktype", "s": "snaplen", "F": "filter_file"}


class PlainArguments:
    """What argparse's Namespace holds for ``pybpf filter`` (see :func:`parse_plain`)."""

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
        from pybpf.cli import build_parser

        parser = build_parser("filter")
        return parser._subparsers._group_actions[0].choices["filter"]    # type: ignore[union-attr]


def parse_plain(arguments: list[str]) -> PlainArguments | None:
    """The arguments of ``pybpf filter ARGUMENTS`` read as argparse reads them, for the
    plain command lines that reading files uses — ``-r FILE`` with any of ``-w -c -y -s
    -F`` (each followed by its value) and ``-n -e -x -O -p`` (alone or grouped, as in
    ``-nr FILE``), each at most once, then the expression's words — without importing
    argparse. ``None`` for anything else (help, ``-d``, ``-i``, ``--``, a value
    attached to its option or starting with ``-``, a count or snapshot length that is
    not plain digits or is out of range, words that start with ``-``): argparse reads
    those, with its messages."""
    parsed = PlainArguments()
    seen: set[str] = set()
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if not word.startswith("-") or word == "-":
            break
        letters = word[1:]
        if not letters or not all(letter in _PLAIN_FLAGS or letter in _PLAIN_VALUES for letter in letters) \
                or any(letter in _PLAIN_VALUES for letter in letters[:-1]):
            return None
        index += 1
        for letter in letters:
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
    if parsed.read is None or any(word.startswith("-") for word in words):
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
    except BrokenPipeError:                 # `pybpf filter ... | head`: stop quietly, as tcpdump does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _expression(args: argparse.Namespace) -> str:
    """The expression: the arguments joined by spaces, or the -F file's whole text with
    ``#`` comments blanked to the end of their line (tcpdump does the same), columns kept
    so that errors point at the right place."""
    if args.filter_file is None:
        return " ".join(args.expression)
    if args.expression:
        _note(f"pybpf filter: warning: expression taken from {args.filter_file}; "
              f"ignoring {' '.join(args.expression)!r}")
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
    """Print the program for the file's link type (-r), the interface's (-i), -y's, or
    Ethernet, with a warning, as tcpdump does."""
    snaplen = args.snaplen or DEFAULT_SNAPLEN
    if args.read is not None:
        with _open(args.read) as capture:
            linktype = capture.linktype if capture.linktype is not None else 1
            snaplen = capture.snaplen or snaplen
    elif args.interface is not None:
        from pybpf.capture.live import LiveCapture

        with LiveCapture(args.interface, None, snaplen) as live:
            linktype = live.linktype
    elif args.linktype is not None:
        from pybpf.filter import link_type

        linktype = link_type(args.linktype).number
    else:
        _note("pybpf filter: warning: assuming Ethernet (give -y LINKTYPE for another link type)")
        linktype = 1
    from pybpf.cbpf import dump
    from pybpf.filter import compile_filter

    program = compile_filter(expression, linktype, snaplen, optimize=not args.no_optimize)
    sys.stdout.write(dump(program, _DUMP_STYLES[min(args.dump, 3)]))
    return 0


def _open(path: str) -> CaptureFile:
    from pybpf.capture import open_capture

    return open_capture(sys.stdin.buffer if path == "-" else path)


class _Printer:
    """Matching packets as tcpdump prints them: timestamp, summary, optional hex."""

    def __init__(self, args: argparse.Namespace):
        self.numeric, self.link_header, self.hex = args.numeric, args.link_header, args.hex
        self.out = sys.stdout

    def packets(self, packets: Iterable[Packet]) -> None:
        from pybpf.capture import format_timestamp, hexdump, summarize

        lines = []
        for packet in packets:
            line = f"{format_timestamp(packet.timestamp_ns)} " + summarize(
                packet.data, packet.linktype, numeric=self.numeric, link_header=self.link_header,
                wirelen=packet.wirelen)
            lines.append(line + "\n" + hexdump(packet.data, packet.linktype) if self.hex else line)
        if lines:
            self.out.write("\n".join(lines) + "\n")

    def batch(self, batch: RecordBatch, results: ctypes.Array, chosen: list[int]) -> None:
        self.packets(batch.packet(i) for i in chosen)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.out.flush()

    def abort(self) -> None:
        self.out.flush()


class _Saver:
    """Matching packets written to a pcap file: to a new file atomically (it appears
    only when complete), to a device or FIFO (``/dev/null``) or stdout directly. From a
    batch whose records are stored as this file stores them, the records are copied
    undecoded."""

    def __init__(self, target: str, linktype: int, snaplen: int, nanosecond: bool = False,
                 byte_order: str = "native"):
        from pybpf.capture import PcapWriter

        self._stream: BinaryIO | None = None
        destination: str | BinaryIO = target
        if target == "-":
            destination = sys.stdout.buffer
        elif os.path.exists(target) and not os.path.isfile(target):
            # a device or FIFO: an atomic rename would replace it (/dev/null!) with a file
            destination = self._stream = open(target, "wb")
        self.writer = PcapWriter(destination, linktype, snaplen, nanosecond=nanosecond, byte_order=byte_order)
        self.byte_order, self.nanosecond = byte_order, nanosecond

    def packets(self, packets: Iterable[Packet]) -> None:
        for packet in packets:
            self.writer.write_packet(packet)

    def copies(self, batches: RecordBatches) -> bool:
        """Whether the records of ``batches`` are stored as this file stores them (then
        they are copied undecoded)."""
        return batches.linktype == self.writer.linktype and batches.nanosecond == self.nanosecond \
            and ("big" if batches.byte_order == ">" else "little") == self.byte_order

    def batch(self, batch: RecordBatch, results: ctypes.Array, chosen: list[int]) -> None:
        if batch.linktype == self.writer.linktype and batch.endian == self.byte_order \
                and batch.nanosecond == self.nanosecond:
            upto = chosen[-1] + 1 if chosen else 0
            self.writer.write_records(batch.gather(results, upto), len(chosen))
        else:
            self.packets(batch.packet(i) for i in chosen)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            if self._stream is not None:
                self._stream.close()

    def abort(self) -> None:
        self.writer.abort()
        if self._stream is not None:
            self._stream.close()


def _read(args: argparse.Namespace, expression: str) -> int:
    from pybpf.capture import linktype_name
    from pybpf.cli.progress import Progress
    from pybpf.pcapfilter.batch import batches as batches_of
    from pybpf.pcapfilter.matcher import Matcher

    with _open(args.read) as capture:
        linktype = capture.linktype if capture.linktype is not None else 1
        snaplen = capture.snaplen or DEFAULT_SNAPLEN
        _note(f"reading from file {args.read}, link-type {linktype_name(linktype)}, snapshot length {snaplen}")
        matcher = Matcher(expression, optimize=not args.no_optimize, snaplen=snaplen, cache=True)
        if not matcher.match_all:
            matcher.program(linktype)          # a bad expression fails before any output
        batches = batches_of(capture)
        if args.write is None:
            sink: _Printer | _Saver = _Printer(args)
        elif batches is not None:
            sink = _Saver(args.write, linktype, snaplen, batches.nanosecond,
                          "big" if batches.byte_order == ">" else "little")
        else:
            sink = _Saver(args.write, linktype, snaplen)
        progress = Progress(capture.size, enabled=args.write is not None and sys.stderr.isatty())
        try:
            if batches is not None:
                _filter_batches(batches, matcher, sink, args.count, progress)
            else:
                _filter_packets(capture, matcher, sink, args.count, progress)
        except BaseException:
            sink.abort()
            raise
        finally:
            progress.finish()
            if batches is not None:
                batches.close()
        sink.close()
    return 0


def threads() -> int:
    """Threads filtering a file at once: ``$PYBPF_FILTER_THREADS``, else the CPUs this
    process may run on that other tasks are not running on right now (at most
    :data:`MAX_THREADS`). A thread on a CPU that is busy anyway costs more than it
    gains: the threads' work is memory-bound and they hand the GIL to one another
    between batches, so on a machine whose other CPUs are taken one thread is faster."""
    value = os.environ.get("PYBPF_FILTER_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus - _others_running(), MAX_THREADS))


def _others_running() -> int:
    """Tasks running or ready to run besides this one, now (Linux's /proc/loadavg: its
    fourth field is runnable/all); 0 where that cannot be read."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - 1)


def _filter_batches(batches: RecordBatches, matcher: Matcher, sink: _Printer | _Saver, count: int | None,
                    progress: Progress) -> None:
    """The native path: each batch filtered by the JIT, the matches printed or copied.
    Copying every match (``-w`` without ``-c``) is walk, filter and copy only, which
    threads share (:meth:`~pybpf.pcapfilter.batch.RecordBatches.filtered`)."""
    if count is None and isinstance(sink, _Saver) and sink.copies(batches):
        read = matched = 0
        for gathered in batches.filtered(matcher.match_batch, threads(),
                                         native_filter=matcher.native_filter(batches.linktype)):
            sink.writer.write_records(gathered.data, gathered.matched)
            read += gathered.records
            matched += gathered.matched
            progress.update(read, matched, gathered.end_offset)
        return
    results = (ctypes.c_uint64 * batches.batch_size)()
    read = matched = 0
    for batch in batches:
        matcher.match_batch(batch, results)
        chosen = batch.selected(results, None if count is None else count - matched)
        sink.batch(batch, results, chosen)
        matched += len(chosen)
        read += batch.count
        progress.update(read, matched, batch.end_offset)
        if count is not None and matched >= count:
            return


def _filter_packets(capture: CaptureFile, matcher: Matcher, sink: _Printer | _Saver, count: int | None,
                    progress: Progress) -> None:
    """Packets decoded one at a time (pcapng, unusual pcap variants), filtered in groups."""
    read = matched = 0
    group: list[Packet] = []
    for packet in capture:
        group.append(packet)
        if len(group) < GROUP:
            continue
        read += len(group)
        matched += _emit(matcher, group, sink, None if count is None else count - matched)
        progress.update(read, matched, capture.offset)
        group = []
        if count is not None and matched >= count:
            return
    _emit(matcher, group, sink, None if count is None else count - matched)


def _emit(matcher: Matcher, group: list[Packet], sink: _Printer | _Saver, limit: int | None) -> int:
    chosen = [packet for packet, ok in zip(group, matcher.match(group)) if ok][:limit]
    sink.packets(chosen)
    return len(chosen)


def _live(args: argparse.Namespace, expression: str) -> int:
    """Capture with the program attached to the socket: the kernel drops what it rejects."""
    from pybpf.capture import CaptureError, linktype_name
    from pybpf.capture.live import LiveCapture
    from pybpf.cbpf import run as run_classic
    from pybpf.filter import compile_filter, link_type

    snaplen = args.snaplen or DEFAULT_SNAPLEN
    with LiveCapture(args.interface, None, snaplen, promisc=not args.no_promisc) as live:
        if args.linktype is not None and link_type(args.linktype).number != live.linktype:
            raise PybpfError(f"{args.interface}: its link type is {linktype_name(live.linktype)}; "
                             f"-y {args.linktype} is not available on it")
        in_userspace = None
        if expression.strip():
            program = compile_filter(expression, live.linktype, snaplen, optimize=not args.no_optimize)
            try:
                live.set_filter(program)
            except CaptureError as exc:
                # e.g. protochain's loop: Linux takes no backward jumps in a socket filter, so
                # the filter runs here on every packet, as libpcap falls back to doing
                _note(f"the kernel cannot run this filter ({exc}); filtering in userspace")
                in_userspace = program
        sink = _Printer(args) if args.write is None else _Saver(args.write, live.linktype, snaplen)
        _note(f"listening on {args.interface}, link-type {linktype_name(live.linktype)}, "
              f"snapshot length {snaplen} bytes")
        captured = 0
        try:
            for packet in live.packets(None if in_userspace else args.count):
                if in_userspace is not None and not run_classic(in_userspace, packet.data, packet.wirelen):
                    continue
                sink.packets([packet])
                sink.flush()
                captured += 1
                if args.count is not None and captured >= args.count:
                    break
        except KeyboardInterrupt:           # the usual way to stop a capture: keep what was saved
            pass
        except BaseException:
            sink.abort()
            raise
        sink.close()
        _note(f"{captured} packet{'s' if captured != 1 else ''} captured")
    return 0
