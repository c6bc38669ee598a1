"""Classic pcap records in batches of thousands, found by native code, for tools
that handle a million packets a second (``pybpf filter -r big.pcap -w out.pcap``).

Reading one :class:`~pybpf.capture.Packet` at a time costs a microsecond or more per
record in Python; here a batch is a set of arrays — each record's offset, captured
length, wire length and the host address of its data — filled by the native walker of
:mod:`pybpf.pcapfilter.walker` straight from the file's bytes. The arrays
are what the vm JIT's batch entry point takes, and :meth:`RecordBatch.gather` copies the
accepted records, headers untouched, into the body of an output file. A regular file is
mapped a window at a time (nothing is copied); other streams are read in large chunks.

A :class:`RecordBatch` is reused for the next batch: use its contents before asking for
the next one.

:meth:`RecordBatches.filtered` is the whole of ``pybpf filter -w``'s work on a file: walk,
filter and gather, and on a machine with several CPUs it splits a regular file into
pieces that threads process at once (see its documentation for how the pieces start at
record boundaries without walking the file first).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys

from pybpf.capture._source import Source
from pybpf.capture.packet import Packet
from pybpf.capture.pcap import PcapReader, max_caplen, oversized_record
from pybpf.pcapfilter.walker import NO_BOUNDARY, STOP_BOUNDARY, STOP_END, STOP_FULL, STOP_OVERSIZED, Native, native

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from typing import Any, Literal, NamedTuple

    from pybpf.capture.reader import CaptureFile
    from pybpf.pcapfilter.matcher import NativeFilter

    #: a piece of the file to walk: (address, start, end, file offset of the address, whether it
    #: is the last, an object that keeps the memory alive)
    _Span = tuple[int, int, int, int, bool, Any]
else:                   # the same class, without typing (pybpf._namedtuple)
    from pybpf._namedtuple import NamedTuple

RECORD_HEADER = 16
#: records per batch: small enough that a batch's packets (~2 MB of typical traffic) are
#: still in the CPU cache when the filter and the gather read them after the walk
DEFAULT_BATCH = 4096
#: bytes read at a time from a stream that cannot be mapped
CHUNK = 8 * 1024 * 1024
#: bytes of a regular file read at a time, into one buffer reused for the next (a window
#: that fits the CPU's last-level cache is still there when the walker and the program
#: read the records: 4 MiB measured 20% faster per packet than 64 MiB, which also paid
#: a page fault per page of fresh memory on every pass)
WINDOW = 4 * 1024 * 1024
#: bytes of a file one thread filters at a time (:meth:`RecordBatches.filtered`): read into
#: memory and walked, filtered and gathered at once, so that the walk finds the bytes the
#: read just put in the CPU's cache (its L2, a few MB, not main memory: a third less
#: time than 16 MB pieces on one thread)
PIECE = 2 * 1024 * 1024
#: consecutive plausible record headers that make a guess of where a record starts
SYNC_CHAIN = 8
#: the most a piece's window extends past its end, for the record that straddles it
TAIL = 4 * 1024 * 1024
#: how far it extends at first (longer records, rare, have the piece done again)
SHORT_TAIL = 64 * 1024
_U64 = ctypes.c_uint64


class RecordBatch:
    """Up to ``capacity`` consecutive records of one pcap file.

    ``count`` records are valid; for record ``i``, ``offsets[i]`` is where its header
    starts in the buffer at host address ``base``, ``hosts[i]`` the address of its data,
    ``caplens[i]``/``wirelens[i]`` its lengths. ``end_offset`` is the file offset just
    past the last record (for progress).
    """

    def __init__(self, capacity: int, linktype: int, unit_ns: int, byte_order: str):
        self.capacity, self.linktype = capacity, linktype
        self.offsets, self.caplens = (_U64 * capacity)(), (_U64 * capacity)()
        self.wirelens, self.hosts = (_U64 * capacity)(), (_U64 * capacity)()
        self.zeros = (_U64 * capacity)()
        self._indices = (_U64 * capacity)()
        self._out = bytearray()
        self.count = 0
        self.base = 0
        self.end_offset = 0
        self._unit_ns = unit_ns
        #: how the records' header fields are stored, and whether timestamps are in ns
        self.endian: Literal["big", "little"] = "big" if byte_order == ">" else "little"
        self.nanosecond = unit_ns == 1
        self._keep: Any = None
        self._native: Native | None = None

    def packet(self, index: int) -> Packet:
        """Record ``index`` decoded as a :class:`Packet` (for printing)."""
        header = ctypes.string_at(self.base + self.offsets[index], 8)
        seconds, fraction = int.from_bytes(header[:4], self.endian), int.from_bytes(header[4:], self.endian)
        data = ctypes.string_at(self.hosts[index], self.caplens[index])
        return Packet(seconds * 1_000_000_000 + fraction * self._unit_ns, data, self.wirelens[index], self.linktype)

    def selected(self, results: ctypes.Array, limit: int | None = None) -> list[int]:
        """Indices of the records whose result is non-zero (the first ``limit`` of them)."""
        assert self._native is not None
        found = self._native.differ(results, self.zeros, self.count, self._indices,
                                    self.count if limit is None else limit)
        return self._indices[:found]

    def truncated(self) -> list[int]:
        """Indices of the records captured shorter than they were on the wire."""
        assert self._native is not None
        found = self._native.differ(self.caplens, self.wirelens, self.count, self._indices, self.count)
        return self._indices[:found]

    def gather(self, results: ctypes.Array, upto: int | None = None) -> memoryview:
        """The records (headers and data, as in the file) whose result is non-zero, among
        the first ``upto``, copied one after another into a buffer of the batch's (valid
        until the next call)."""
        assert self._native is not None
        count = self.count if upto is None else upto
        if count == 0:
            return memoryview(b"")
        last = count - 1
        span = self.offsets[last] + RECORD_HEADER + self.caplens[last] - self.offsets[0]
        if len(self._out) < span:       # a new buffer: the caller may still hold a view of the old
            self._out = bytearray(max(span, 2 * len(self._out)))
        target = (ctypes.c_char * len(self._out)).from_buffer(self._out)
        written = self._native.gather(self.base, self.offsets, self.caplens, results, count,
                                      ctypes.addressof(target))
        del target
        return memoryview(self._out)[:written]

    def gather_into(self, results: ctypes.Array, out: bytearray | mmap.mmap, at: int) -> int:
        """:meth:`gather` into ``out`` from byte ``at`` (a bytearray grows as needed; a
        mapping must be large enough): the number of bytes written."""
        assert self._native is not None
        count = self.count
        if count == 0:
            return 0
        last = count - 1
        span = self.offsets[last] + RECORD_HEADER + self.caplens[last] - self.offsets[0]
        if len(out) < at + span:
            if not isinstance(out, bytearray):
                raise ValueError(f"gather: {len(out)} bytes of output cannot take {at + span}")
            out.extend(bytes(max(at + span - len(out), len(out))))     # at least doubled
        target = (ctypes.c_char * (len(out) - at)).from_buffer(out, at)
        written = self._native.gather(self.base, self.offsets, self.caplens, results, count,
                                      ctypes.addressof(target))
        del target
        return written

    def accepted(self, results: ctypes.Array) -> int:
        """How many of the batch's records have a non-zero result."""
        assert self._native is not None
        return self._native.differ(results, self.zeros, self.count, self._indices, self.count)


class Gathered(NamedTuple):
    """Accepted records of a stretch of the file, copied as they are stored (a pcap
    file's body); ``end_offset`` is the file offset just past the stretch."""

    data: memoryview
    records: int
    matched: int
    end_offset: int


class _Piece(NamedTuple):
    """What a thread made of one piece: ``start`` is where its walk began (a guess for
    every piece but the first), ``end`` where it stopped (the first record starting at or
    after the piece's end); ``complete`` is false where anything unusual happened (a
    damaged record, an error from the filter): the piece is then read again one batch at
    a time, which meets the same thing in the same order."""

    start: int
    end: int
    complete: bool
    data: bytearray | mmap.mmap
    size: int
    records: int
    matched: int


class _Worker:
    """One thread's batch and result arrays."""

    def __init__(self, walker: Native, batch_size: int, linktype: int, unit_ns: int, byte_order: str):
        self.batch = RecordBatch(batch_size, linktype, unit_ns, byte_order)
        self.batch._native = walker
        self.results = (_U64 * batch_size)()
        self.stop = (_U64 * 4)()
        #: the filter as native code calls it (:meth:`RecordBatches.filtered`), if any
        self.native_filter: NativeFilter | None = None
        #: the piece being walked, read in here (:meth:`RecordBatches._piece`)
        self.window = _FileWindow()

class _FileWindow:
    """Part of a regular file read into anonymous memory at a fixed address, kept and
    reused for the next part (fresh memory costs a page fault per page).

    Not a mapping of the file itself: a file that shrinks while it is read (a capture
    rotated by ``tcpdump -C/-W``, a copy being rewritten) would make every access past its
    new end a SIGBUS that kills the process in the middle of native code. Read with
    ``pread``, a shrunk file is only a short read: ``size`` is what was there, and the
    walk reports the record it cuts short as a truncated file, as tcpdump does."""

    _libc: Any = None

    def __init__(self) -> None:
        if _FileWindow._libc is None:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long]
            libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            _FileWindow._libc = libc
        self.address = self.size = self._length = 0

    def read(self, fd: int, offset: int, size: int) -> int:
        """Read ``size`` bytes of ``fd`` from ``offset`` to :attr:`address`; returns (and
        :attr:`size` is) how many there were."""
        if size > self._length:
            self.close()
            address = self._libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                                      mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
            if address in (None, ctypes.c_void_p(-1).value):
                raise OSError(ctypes.get_errno(), "mmap failed")
            self.address, self._length = address, size
        got = 0
        if size:
            with memoryview((ctypes.c_char * size).from_address(self.address)).cast("B") as view:
                while got < size:
                    count = os.preadv(fd, [view[got:]], offset + got)     # releases the GIL
                    if count == 0:
                        break
                    got += count
        self.size = got
        return got

    def close(self) -> None:
        if self.address:
            self._libc.munmap(self.address, self._length)
            self.address = self._length = 0

    def __del__(self) -> None:
        self.close()


class RecordBatches:
    """The records of a classic pcap file after its header, batch by batch.

    Made by :meth:`pybpf.capture.CaptureFile.batches` (which returns ``None`` for files
    this cannot walk). Errors are the record-at-a-time reader's, at the same offsets.
    """

    def __init__(self, source: Source, reader: PcapReader, walker: Native, batch_size: int = DEFAULT_BATCH):
        self._source, self._reader, self._native = source, reader, walker
        self.batch_size = batch_size
        self.linktype, self.snaplen = reader.linktype, reader.snaplen
        self.nanosecond, self.byte_order = reader.nanosecond, reader.byte_order
        self.size = source.size()
        #: file offset up to which records have been handed out
        self.offset = source.offset
        self._swapped = (reader.byte_order == "<") != (sys.byteorder == "little")
        self._batch = RecordBatch(batch_size, reader.linktype, reader.timestamp_unit_ns, reader.byte_order)
        self._batch._native = walker
        self._unit_ns = reader.timestamp_unit_ns
        self._limit = max_caplen(reader.linktype)
        self._window = _FileWindow()

    def _buffers(self, start: int | None = None) -> Generator[_Span, int, None]:
        """(address, start, end, file offset of the address, last, keep-alive) of each
        piece of the file to walk; the caller sends back where the walk stopped, and the
        next piece starts with the record found there (one a piece's end cut short).

        A regular file is mapped a window at a time (bounded memory however large the
        file); other streams are read in chunks."""
        fd = self._source.regular_fileno()
        if fd is not None and self.size is not None:
            yield from self._windows(fd, self.size, self._source.offset if start is None else start)
            return
        pending = bytearray()
        while True:
            start = self._source.offset - len(pending)
            data = self._source.read_some(CHUNK)
            buffer = pending + data
            if not buffer:
                return
            holder = (ctypes.c_char * len(buffer)).from_buffer(buffer)
            # read_some returns less than asked only at the end of the stream
            stop = yield ctypes.addressof(holder), 0, len(buffer), start, len(data) < CHUNK, holder
            del holder
            pending = buffer[stop:]

    def _windows(self, fd: int, size: int, offset: int) -> Generator[_Span, int, None]:
        window = WINDOW
        while offset < size:
            base = offset - offset % mmap.ALLOCATIONGRANULARITY
            length = min(window, size - base)
            last = base + length >= size
            if self._window.read(fd, base, length) < length:    # the file shrank: what is left ends it
                length, last = self._window.size, True
            stop = yield self._window.address, offset - base, length, base, last, None
            if base + stop == offset and not last:
                window *= 2                 # a record larger than the window: widen it
            offset = base + stop

    def __iter__(self) -> Iterator[RecordBatch]:
        return self._batches()

    def _batches(self, start: int | None = None) -> Iterator[RecordBatch]:
        """The batches from the file offset ``start`` (a record boundary of a regular
        file), or from where the source is."""
        buffers = self._buffers(start)
        try:
            piece = next(buffers, None)
            while piece is not None:
                address, _start, end, file_base, last, _keep = piece
                position = yield from self._walk(piece)
                if last:
                    self._check_end(address, position, end, file_base)
                    break
                try:
                    piece = buffers.send(position)
                except StopIteration:
                    break
        finally:
            buffers.close()
        if self.size is not None:
            self.offset = self.size

    def _walk(self, piece: _Span) -> Generator[RecordBatch, None, int]:
        """The batches of one piece; returns where the walk stopped in it."""
        address, position, end, file_base, _last, keep = piece
        batch, walk, stop = self._batch, self._native.walk, (_U64 * 2)()
        while True:
            batch.count = walk(address, position, end, self._swapped, self._limit, batch.capacity,
                               batch.offsets, batch.caplens, batch.wirelens, batch.hosts, stop, NO_BOUNDARY)
            position, reason = stop[0], stop[1]
            if batch.count:
                batch.base, batch._keep = address, keep
                batch.end_offset = self.offset = file_base + position
                yield batch
            if reason == STOP_OVERSIZED:
                raise self._source.error(file_base + position, oversized_record(
                    self._caplen_at(address + position), self._limit, self.snaplen))
            if reason != STOP_FULL:
                return position

    def _caplen_at(self, record: int) -> int:
        return int.from_bytes(ctypes.string_at(record + 8, 4), "big" if self.byte_order == ">" else "little")

    def _check_end(self, address: int, position: int, end: int, file_base: int) -> None:
        """Bytes left after the last whole record are a record cut short: say so as the
        record-at-a-time reader does."""
        left = end - position
        if left == 0:
            return
        if left < RECORD_HEADER:
            raise self._source.error(file_base + position,
                                     f"truncated record header ({left} of {RECORD_HEADER} bytes)")
        caplen = self._caplen_at(address + position)
        raise self._source.error(file_base + position + RECORD_HEADER,
                                 f"truncated packet data ({left - RECORD_HEADER} of {caplen} bytes)")

    def filtered(self, match: Callable[[RecordBatch, ctypes.Array], None], threads: int = 1,
                 piece: int | None = None, native_filter: NativeFilter | None = None) -> Iterator[Gathered]:
        """The records ``match`` accepts, gathered as :meth:`RecordBatch.gather` does, in
        file order: ``match(batch, results)`` fills ``results[:batch.count]`` (non-zero:
        accepted), as :meth:`pybpf.pcapfilter.matcher.Matcher.match_batch` does. The bytes are the
        same whatever ``threads`` is; only how they are cut into items differs. Errors are
        those iterating the batches gives, after the same records.

        With ``threads`` above 1 and a regular file of at least two pieces, the file is
        cut into pieces of ``piece`` bytes (:data:`PIECE`), which that many threads walk, filter and
        gather at once (the native loops and the JIT release the GIL; each thread has its
        own arrays). Where a piece starts is a guess, since only walking from the start
        finds record boundaries: the first place after the cut where
        :data:`SYNC_CHAIN` records with plausible headers follow one another. The guess
        is confirmed when the thread walking the piece before stops exactly there (at its
        first record starting at or after the cut); if not, the piece is walked again
        from where that walk stopped. A piece where anything unusual happens (a damaged
        or huge record, an error from ``match``) is left to the one-batch-at-a-time
        walk from its confirmed start to the end of the file, which meets it in order.
        ``match`` must be safe to call from several threads at once.

        With ``native_filter`` (``match``'s filter as native code calls it:
        :meth:`pybpf.pcapfilter.matcher.Matcher.native_filter`), a piece is walked, filtered and
        gathered in one native call (``pcap_filter``), which releases the GIL for the
        whole piece rather than between batches; on one thread, a regular file of two
        pieces or more is then filtered piece after piece the same way. A batch the
        native filter does not finish makes its piece unusual (``match`` then meets the
        fault in the batch walk). The bytes are the same either way."""
        piece = piece or PIECE
        fd = self._source.regular_fileno()
        if fd is not None and self.size is not None and self.size - self.offset >= 2 * piece \
                and (threads > 1 or native_filter is not None):
            if threads > 1:
                yield from self._filtered_parallel(match, threads, piece, fd, self.size, native_filter)
            else:
                yield from self._filtered_pieces(match, piece, fd, self.size, native_filter)
        else:
            yield from self._filtered_batches(match, None)
        if self.size is not None:
            self.offset = self.size

    def _filtered_batches(self, match: Callable[[RecordBatch, ctypes.Array], None],
                          start: int | None) -> Iterator[Gathered]:
        results = (_U64 * self.batch_size)()
        for batch in self._batches(start):
            match(batch, results)
            matched = batch.accepted(results)
            yield Gathered(batch.gather(results) if matched else memoryview(b""), batch.count, matched,
                           batch.end_offset)

    def _cuts(self, piece: int, size: int) -> list[int]:
        cuts = list(range(self.offset, size, piece)) + [size]
        if size - cuts[-2] < piece // 2:        # no small piece at the end
            del cuts[-2]
        return cuts

    def _filtered_pieces(self, match: Callable[[RecordBatch, ctypes.Array], None], piece: int, fd: int,
                         size: int, native_filter: NativeFilter | None) -> Iterator[Gathered]:
        """:meth:`filtered` on one thread, a piece at a time (each from where the one
        before stopped, so nothing is guessed)."""
        cuts = self._cuts(piece, size)
        worker = self._worker(native_filter)
        out: bytearray | mmap.mmap = bytearray()
        expected = self.offset
        for until in cuts[1:]:
            try:
                result = self._piece(fd, size, worker, match, expected, until, False, out)
            except Exception:               # (a failed mmap) the batch walk tries again and says why
                break
            if not result.complete:
                break
            out = result.data
            expected = self.offset = result.end
            if result.records:
                view = memoryview(out)[:result.size]
                yield Gathered(view, result.records, result.matched, expected)
                view.release()
        else:
            return
        yield from self._filtered_batches(match, expected)

    def _filtered_parallel(self, match: Callable[[RecordBatch, ctypes.Array], None], threads: int,
                           piece: int, fd: int, size: int,
                           native_filter: NativeFilter | None = None) -> Iterator[Gathered]:
        """:meth:`filtered` on ``threads`` threads. Built on :mod:`_thread`'s locks, not
        :mod:`threading` (which imports functools and collections: ~2.5 ms of a command
        whose work on a 100k-packet file is ~10 ms): piece ``i`` has a lock held until
        a worker has done it (the reading thread waits on it), and one held until the
        reading thread has taken it, which the worker that takes piece ``i + ahead``
        waits on first — at most ``ahead`` pieces are done and not yet taken."""
        import _thread  # (here: one thread, the usual case on a busy machine, needs none)

        first = self.offset
        cuts = self._cuts(piece, size)
        count = len(cuts) - 1
        ahead = 2 * threads
        done_lock = [_thread.allocate_lock() for _ in range(count)]
        taken_lock = [_thread.allocate_lock() for _ in range(count)]
        exited = [_thread.allocate_lock() for _ in range(threads)]
        for lock in (*done_lock, *taken_lock, *exited):
            lock.acquire()
        done: list[_Piece | None] = [None] * count     # piece i's result, set before done_lock[i] is released
        guard = _thread.allocate_lock()         # over ``state`` and ``spare``
        state = {"next": 0, "stop": False}
        spare: list[bytearray | mmap.mmap] = []     # output buffers handed back (fresh memory is slow)

        def buffer() -> bytearray | mmap.mmap:
            with guard:
                if spare:
                    return spare.pop()
            return bytearray() if native_filter is not None else bytearray(piece // 4)     # (made to measure)

        def work(number: int) -> None:
            try:
                worker = self._worker(native_filter)
                while True:
                    with guard:
                        index = state["next"]
                        if state["stop"] or index >= count:
                            return
                        state["next"] += 1
                    if index >= ahead:      # (each such lock has this one waiter, and only the
                        taken_lock[index - ahead].acquire()     # reading thread releases it)
                        if state["stop"]:
                            return
                    out = buffer()
                    try:
                        result = self._piece(fd, size, worker, match, cuts[index], cuts[index + 1], index > 0, out)
                    except Exception:       # (a failed mmap) the reading thread tries again and says why
                        result = _Piece(-1, -1, False, out, 0, 0, 0)
                    done[index] = result
                    done_lock[index].release()
            finally:
                exited[number].release()

        for number in range(threads):
            _thread.start_new_thread(work, (number,))
        mine: _Worker | None = None
        expected = first
        try:
            for index in range(count):
                done_lock[index].acquire()
                result, done[index] = done[index], None
                assert result is not None
                taken_lock[index].release()
                if result.start != expected:    # a wrong guess: the piece from where it really starts
                    mine = mine or self._worker(native_filter)
                    result = self._piece(fd, size, mine, match, expected, cuts[index + 1], False, result.data)
                if not result.complete:
                    break
                expected = result.end
                self.offset = expected
                if result.records:
                    view = memoryview(result.data)[:result.size]
                    yield Gathered(view, result.records, result.matched, expected)
                    view.release()
                with guard:
                    spare.append(result.data)
            else:
                return
        finally:
            with guard:
                state["stop"] = True
            for lock in taken_lock:             # wake any worker waiting to take a piece
                if lock.locked():
                    lock.release()
            for lock in exited:
                lock.acquire()
        # something unusual at ``expected``: from there one batch at a time
        yield from self._filtered_batches(match, expected)

    def _worker(self, native_filter: NativeFilter | None = None) -> _Worker:
        worker = _Worker(self._native, self.batch_size, self.linktype, self._unit_ns, self.byte_order)
        worker.native_filter = native_filter
        return worker

    def _piece(self, fd: int, size: int, worker: _Worker, match: Callable[[RecordBatch, ctypes.Array], None],
               start: int, until: int, guess: bool, out: bytearray | mmap.mmap) -> _Piece:
        """The records starting in [``start``, ``until``) walked, filtered and gathered
        into ``out`` (which grows as needed; the piece's ``data`` may be a new buffer);
        with ``guess``, ``start`` is only near the first of them (see :meth:`filtered`);
        with the worker's ``native_filter``, in one native call. The piece is read on
        its own with :data:`SHORT_TAIL` bytes past its end, for the record that straddles
        it; where that record is longer, the piece is done again with room for the
        longest record the link type allows. Memory stays bounded however large the
        file."""
        if start >= until:                  # the record before reached past this piece
            return _Piece(start, start, True, out, 0, 0, 0)
        full = min(size, until + RECORD_HEADER + min(self._limit, TAIL))
        short = min(full, until + RECORD_HEADER + SHORT_TAIL)
        result, cut_short = self._piece_upto(fd, short, worker, match, start, until, guess, out)
        if cut_short and short < full:
            result, _ = self._piece_upto(fd, full, worker, match, start, until, guess, result.data)
        return result

    def _piece_upto(self, fd: int, end: int, worker: _Worker, match: Callable[[RecordBatch, ctypes.Array], None],
                    start: int, until: int, guess: bool, out: bytearray | mmap.mmap) -> tuple[_Piece, bool]:
        """:meth:`_piece` with the file read up to ``end``; and whether the walk ran into
        ``end`` (a record, or the guess of where the first starts, cut short there)."""
        base = start - start % mmap.ALLOCATIONGRANULARITY
        window = worker.window
        if window.read(fd, base, end - base) < end - base:     # the file shrank: the batch walk says where it ends
            return _Piece(-1, -1, False, out, 0, 0, 0), False
        address, position, limit = window.address, start - base, end - base
        if guess:
            position = self._native.sync(address, position, limit, self._swapped, self._limit,
                                         1_000_000_000 if self._unit_ns == 1 else 1_000_000, SYNC_CHAIN)
            if position >= limit:       # no plausible records: let the walk before say where
                return _Piece(-1, -1, False, out, 0, 0, 0), True
        begin = base + position
        batch, results, stop, walk = worker.batch, worker.results, worker.stop, self._native.walk
        native_filter = worker.native_filter
        if native_filter is not None:
            if len(out) < limit - position:  # room for every byte walked, with a margin for the next piece's
                # anonymous memory: pages are allocated as they are written (bytearray(n)
                # would write zeros over all of it first: ~5,000 page faults a buffer)
                out = mmap.mmap(-1, (limit - position) * 9 // 8)
            target = (ctypes.c_char * len(out)).from_buffer(out)
            state, token = native_filter.open()
            try:
                written = self._native.filter(address, position, limit, self._swapped, self._limit,
                                              batch.capacity, batch.offsets, batch.caplens, batch.wirelens,
                                              batch.hosts, stop, until - base, native_filter.function, state,
                                              results, ctypes.addressof(target))
            finally:
                native_filter.close(token)
                del target
            return _Piece(begin, base + stop[0], stop[1] == STOP_BOUNDARY, out, written, stop[2], stop[3]), \
                stop[1] == STOP_END
        written = records = matched = 0
        while True:
            batch.count = walk(address, position, limit, self._swapped, self._limit, batch.capacity,
                               batch.offsets, batch.caplens, batch.wirelens, batch.hosts, stop, until - base)
            position, reason = stop[0], stop[1]
            if batch.count:
                batch.base = address
                try:
                    match(batch, results)
                except Exception:       # the batch walk raises it, after the same records
                    return _Piece(begin, -1, False, out, 0, 0, 0), False
                accepted = batch.accepted(results)
                if accepted:
                    written += batch.gather_into(results, out, written)
                records += batch.count
                matched += accepted
            if reason != STOP_FULL:
                return _Piece(begin, base + position, reason == STOP_BOUNDARY, out, written, records, matched), \
                    reason == STOP_END

    def close(self) -> None:
        """Free the memory the file was read into (the source itself is closed by its CaptureFile)."""
        self._batch._keep = None
        self._window.close()


def batches(capture: CaptureFile, batch_size: int = DEFAULT_BATCH) -> RecordBatches | None:
    """The records of ``capture`` in native-walked batches, for a classic pcap file not yet
    iterated; ``None`` for pcapng, for pcap variants with other record layouts and where
    native code cannot be compiled — iterate the file instead."""
    unread = capture.unread_pcap()
    return None if unread is None else record_batches(*unread, batch_size)


def record_batches(source: Source, reader: PcapReader, batch_size: int = DEFAULT_BATCH) -> RecordBatches | None:
    """Batches over the rest of a pcap file, or ``None`` where the native walker is
    unavailable or the file's records are not the usual layout (pre-2.4 files that may
    swap caplen and len, Kuznetzov's patched format)."""
    if not reader.plain_records:
        return None
    walker = native()
    if walker is None:
        return None
    return RecordBatches(source, reader, walker, batch_size)
