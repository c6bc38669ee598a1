"""What ``pybpf filter`` does once its arguments are read: filter a capture file
(:func:`filter_file`), capture live with the program in the kernel (:func:`capture_live`),
or give the compiled program (:func:`program_for`). Progress notes go to stderr, as
tcpdump's do.

Each function imports the capture, filter and JIT modules it uses when it runs (and only
those a given run needs: no summaries with ``-w``), so that ``pybpf`` building its
parser costs nothing here.
"""

from __future__ import annotations

import os
import sys

from pybpf.errors import PybpfError
from pybpf.pcapfilter import DEFAULT_SNAPLEN
from pybpf.pcapfilter.sinks import Printer, PrintStyle, Saver

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.capture.packet import Packet
    from pybpf.capture.reader import CaptureFile
    from pybpf.cbpf.instruction import Instruction
    from pybpf.pcapfilter.batch import RecordBatches
    from pybpf.pcapfilter.matcher import Matcher
    from pybpf.pcapfilter.progress import Progress
    from pybpf.pcapfilter.sinks import Sink

#: packets decoded one at a time (pcapng files) are filtered this many at once
GROUP = 1024
#: the most threads that filter one file
MAX_THREADS = 4


def note(text: str) -> None:
    print(text, file=sys.stderr)


def open_file(path: str) -> CaptureFile:
    """The capture file at ``path`` (``-``: stdin)."""
    from pybpf.capture import open_capture

    return open_capture(sys.stdin.buffer if path == "-" else path)


def program_for(expression: str, *, read: str | None = None, interface: str | None = None,
                linktype: str | None = None, snaplen: int = DEFAULT_SNAPLEN,
                optimize: bool = True) -> list[Instruction]:
    """The classic program for the link type of the file ``read``, of the interface, of
    ``linktype`` (a name or number), or Ethernet, with a warning, as tcpdump does."""
    if read is not None:
        with open_file(read) as capture:
            number = capture.linktype if capture.linktype is not None else 1
            snaplen = capture.snaplen or snaplen
    elif interface is not None:
        from pybpf.capture.live import LiveCapture

        with LiveCapture(interface, None, snaplen) as live:
            number = live.linktype
    elif linktype is not None:
        from pybpf.filter import link_type

        number = link_type(linktype).number
    else:
        note("pybpf filter: warning: assuming Ethernet (give -y LINKTYPE for another link type)")
        number = 1
    from pybpf.filter import compile_filter

    return compile_filter(expression, number, snaplen, optimize=optimize)


def filter_file(path: str, expression: str, *, write: str | None = None, count: int | None = None,
                optimize: bool = True, style: PrintStyle | None = None) -> None:
    """Print the packets of the capture file ``path`` that ``expression`` accepts, or save
    them to the pcap file ``write``; stop after ``count`` of them."""
    from pybpf.capture import linktype_name
    from pybpf.pcapfilter.batch import batches as batches_of
    from pybpf.pcapfilter.matcher import Matcher
    from pybpf.pcapfilter.progress import Progress

    with open_file(path) as capture:
        linktype = capture.linktype if capture.linktype is not None else 1
        snaplen = capture.snaplen or DEFAULT_SNAPLEN
        note(f"reading from file {path}, link-type {linktype_name(linktype)}, snapshot length {snaplen}")
        matcher = Matcher(expression, optimize=optimize, snaplen=snaplen, cache=True)
        if not matcher.match_all:
            matcher.program(linktype)          # a bad expression fails before any output
        batches = batches_of(capture)
        if write is None:
            sink: Sink = Printer(style or PrintStyle())
        elif batches is not None:
            sink = Saver(write, linktype, snaplen, batches.nanosecond,
                         "big" if batches.byte_order == ">" else "little")
        else:
            sink = Saver(write, linktype, snaplen)
        progress = Progress(capture.size, enabled=write is not None and sys.stderr.isatty())
        try:
            if batches is not None:
                _filter_batches(batches, matcher, sink, count, progress)
            else:
                _filter_packets(capture, matcher, sink, count, progress)
        except BaseException:
            sink.abort()
            raise
        finally:
            progress.finish()
            if batches is not None:
                batches.close()
        sink.close()


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


def _filter_batches(batches: RecordBatches, matcher: Matcher, sink: Sink, count: int | None,
                    progress: Progress) -> None:
    """The native path: each batch filtered by the JIT, the matches printed or copied.
    Copying every match (``-w`` without ``-c``) is walk, filter and copy only, which
    threads share (:meth:`~pybpf.pcapfilter.batch.RecordBatches.filtered`)."""
    if count is None and isinstance(sink, Saver) and sink.copies(batches):
        read = matched = 0
        for gathered in batches.filtered(matcher.match_batch, threads(),
                                         native_filter=matcher.native_filter(batches.linktype)):
            sink.writer.write_records(gathered.data, gathered.matched)
            read += gathered.records
            matched += gathered.matched
            progress.update(read, matched, gathered.end_offset)
        return
    import ctypes  # (here: printing the program, -d, needs none of the JIT's ctypes, ~2 ms)

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


def _filter_packets(capture: CaptureFile, matcher: Matcher, sink: Sink, count: int | None,
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


def _emit(matcher: Matcher, group: list[Packet], sink: Sink, limit: int | None) -> int:
    chosen = [packet for packet, ok in zip(group, matcher.match(group)) if ok][:limit]
    sink.packets(chosen)
    return len(chosen)


def capture_live(interface: str, expression: str, *, write: str | None = None, count: int | None = None,
                 snaplen: int = DEFAULT_SNAPLEN, optimize: bool = True, promisc: bool = True,
                 linktype: str | None = None, style: PrintStyle | None = None) -> int:
    """Capture on ``interface`` with the program attached to the socket (the kernel drops
    what it rejects), printing or saving what arrives until ``count`` packets or Ctrl-C;
    the number captured. ``linktype``, when given, must be the interface's."""
    from pybpf.capture import CaptureError, linktype_name
    from pybpf.capture.live import LiveCapture
    from pybpf.cbpf import run as run_classic
    from pybpf.filter import compile_filter, link_type

    with LiveCapture(interface, None, snaplen, promisc=promisc) as live:
        if linktype is not None and link_type(linktype).number != live.linktype:
            raise PybpfError(f"{interface}: its link type is {linktype_name(live.linktype)}; "
                             f"-y {linktype} is not available on it")
        in_userspace = None
        if expression.strip():
            program = compile_filter(expression, live.linktype, snaplen, optimize=optimize)
            try:
                live.set_filter(program)
            except CaptureError as exc:
                # e.g. protochain's loop: Linux takes no backward jumps in a socket filter, so
                # the filter runs here on every packet, as libpcap falls back to doing
                note(f"the kernel cannot run this filter ({exc}); filtering in userspace")
                in_userspace = program
        sink: Sink = Printer(style or PrintStyle()) if write is None else Saver(write, live.linktype, snaplen)
        note(f"listening on {interface}, link-type {linktype_name(live.linktype)}, snapshot length {snaplen} bytes")
        captured = 0
        try:
            for packet in live.packets(None if in_userspace else count):
                if in_userspace is not None and not run_classic(in_userspace, packet.data, packet.wirelen):
                    continue
                sink.packets([packet])
                sink.flush()
                captured += 1
                if count is not None and captured >= count:
                    break
        except KeyboardInterrupt:           # the usual way to stop a capture: keep what was saved
            pass
        except BaseException:
            sink.abort()
            raise
        sink.close()
        note(f"{captured} packet{'s' if captured != 1 else ''} captured")
    return captured
