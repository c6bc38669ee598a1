"""Classic pcap records in batches of thousands, found by native code, for tools
that handle a million packets a second (``pybpf filter -r big.pcap -w out.pcap``).

Reading one :class:`~pybpf.capture.Packet` at a time costs a microsecond or more per
record in Python; here a batch is a set of arrays — each record's offset, captured
length, wire length and the host address of its data — filled by the native walker of
:mod:`pybpf.capture._native` straight from the file's bytes. The arrays
are what the vm JIT's batch entry point takes, and :meth:`RecordBatch.gather` copies the
accepted records, headers untouched, into the body of an output file. A regular file is
mapped a window at a time (nothing is copied); other streams are read in large chunks.

A :class:`RecordBatch` is reused for the next batch: use its contents before asking for
the next one.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Iterator
from typing import Any

from pybpf.capture._native import STOP_FULL, STOP_OVERSIZED, Native, native
from pybpf.capture._source import Source
from pybpf.capture.packet import Packet
from pybpf.capture.pcap import PcapReader, max_caplen, oversized_record

RECORD_HEADER = 16
#: records per batch: small enough that a batch's packets (~2 MB of typical traffic) are
#: still in the CPU cache when the filter and the gather read them after the walk
DEFAULT_BATCH = 4096
#: bytes read at a time from a stream that cannot be mapped
CHUNK = 8 * 1024 * 1024
#: bytes of a regular file mapped at a time
WINDOW = 64 * 1024 * 1024
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
        self.endian = "big" if byte_order == ">" else "little"
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


class _Mapping:
    """Part of a regular file mapped read-only (MAP_POPULATE where Linux has it, so the
    pages are read in one go rather than faulted in one by one)."""

    _libc: Any = None

    def __init__(self, fd: int, offset: int, size: int):
        if _Mapping._libc is None:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long]
            libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            _Mapping._libc = libc
        self.size = size
        flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_POPULATE", 0)
        address = self._libc.mmap(None, size, mmap.PROT_READ, flags, fd, offset)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        self.address: int = address

    def close(self) -> None:
        if self.address:
            self._libc.munmap(self.address, self.size)
            self.address = 0


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
        self._limit = max_caplen(reader.linktype)
        self._mapping: _Mapping | None = None

    def _buffers(self) -> Iterator[tuple[int, int, int, int, bool, Any]]:
        """(address, start, end, file offset of the address, last, keep-alive) of each
        piece of the file to walk; the caller sends back where the walk stopped, and the
        next piece starts with the record found there (one a piece's end cut short).

        A regular file is mapped a window at a time (bounded memory however large the
        file); other streams are read in chunks."""
        fd = self._source.regular_fileno()
        if fd is not None and self.size is not None:
            yield from self._windows(fd, self.size)
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

    def _windows(self, fd: int, size: int) -> Iterator[tuple[int, int, int, int, bool, Any]]:
        offset, window = self._source.offset, WINDOW
        while offset < size:
            base = offset - offset % mmap.ALLOCATIONGRANULARITY
            length = min(window, size - base)
            self._mapping = _Mapping(fd, base, length)
            last = base + length >= size
            try:
                stop = yield self._mapping.address, offset - base, length, base, last, None
            finally:
                self._mapping.close()
                self._mapping = None
            if base + stop == offset and not last:
                window *= 2                 # a record larger than the window: widen it
            offset = base + stop

    def __iter__(self) -> Iterator[RecordBatch]:
        buffers = self._buffers()
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

    def _walk(self, piece: tuple[int, int, int, int, bool, Any]) -> Iterator[RecordBatch]:
        """The batches of one piece; returns where the walk stopped in it."""
        address, position, end, file_base, _last, keep = piece
        batch, walk, stop = self._batch, self._native.walk, (_U64 * 2)()
        while True:
            batch.count = walk(address, position, end, self._swapped, self._limit, batch.capacity,
                               batch.offsets, batch.caplens, batch.wirelens, batch.hosts, stop)
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

    def close(self) -> None:
        """Unmap the file (the source itself is closed by its CaptureFile)."""
        self._batch._keep = None
        if self._mapping is not None:
            self._mapping.close()
            self._mapping = None


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
