"""Consuming a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) from Python.

The map's memory is mapped into this process: a consumer-position page we write, then
(read-only) a producer-position page and the data area, mapped twice back to back so
a record that wraps at the end reads as one contiguous slice. Each record has an
8-byte header: its length, with a BUSY bit while the program is still writing it and
a DISCARD bit when the program threw it away. Records are handed out in order; a
busy one stops consumption until it is committed. Readiness comes through epoll on
the map's fd, so several ring buffers (and perf rings) share one poll loop.
"""

from __future__ import annotations

import mmap
import select
import struct
import time
from collections.abc import Callable, Iterator

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

_BUSY = 1 << 31
_DISCARD = 1 << 30
_HEADER = 8
_POS = struct.Struct("<Q")


class RingBufferError(PybpfError):
    """The ring buffer could not be mapped, or its contents are inconsistent."""


class RingBuffer:
    """A reader over one ring buffer map (given its fd and ``max_entries``, the data size)."""

    def __init__(self, map_fd: int, size: int, *, name: str = "ringbuf") -> None:
        if size <= 0 or size & (size - 1) or size % mmap.PAGESIZE:
            raise RingBufferError(f"{name}: ring size {size} is not a power-of-two multiple of the page size")
        self.name = name
        self.fd = map_fd
        self.size = size
        self._mask = size - 1
        page = mmap.PAGESIZE
        try:
            self._consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            self._producer = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        except OSError as exc:
            raise RingBufferError(f"{name}: cannot map ring buffer fd {map_fd}: {exc.strerror}") from None
        self._data = memoryview(self._producer)[page:]

    def records(self) -> Iterator[bytes]:
        """Every committed record available now, oldest first (discarded ones skipped)."""
        consumer = _POS.unpack_from(self._consumer, 0)[0]
        producer = _POS.unpack_from(self._producer, 0)[0]
        while consumer < producer:
            start = consumer & self._mask
            length = struct.unpack_from("<I", self._data, start)[0]
            if length & _BUSY:
                break
            body = length & ~(_BUSY | _DISCARD)
            if body > self.size:
                raise RingBufferError(f"{self.name}: record of {body} bytes at position {consumer} exceeds the ring")
            data = None if length & _DISCARD else bytes(self._data[start + _HEADER:start + _HEADER + body])
            consumer += (body + _HEADER + 7) & ~7
            _POS.pack_into(self._consumer, 0, consumer)  # the space is free once the record is copied
            if data is not None:
                yield data

    def read_array(self, dtype: Any) -> Any:
        """Every committed record available now as one NumPy structured array of
        ``dtype`` (all records must be ``dtype.itemsize`` bytes): the headers are checked
        and the payloads copied out by NumPy, not record by record in Python."""
        import numpy

        dtype = numpy.dtype(dtype)
        stride = (dtype.itemsize + _HEADER + 7) & ~7
        framed = numpy.dtype({"names": ["length", "record"], "formats": ["<u4", dtype],
                              "offsets": [0, _HEADER], "itemsize": stride})
        consumer = _POS.unpack_from(self._consumer, 0)[0]
        producer = _POS.unpack_from(self._producer, 0)[0]
        count = (producer - consumer) // stride
        start = consumer & self._mask
        frames = numpy.frombuffer(self._data[start:start + count * stride], dtype=framed)
        lengths = frames["length"]
        busy = numpy.nonzero(lengths & _BUSY)[0]
        if len(busy):                       # stop at a record still being written
            frames, lengths = frames[:busy[0]], lengths[:busy[0]]
        sizes = lengths & ~numpy.uint32(_BUSY | _DISCARD)
        if numpy.any(sizes != dtype.itemsize):
            wrong = int(sizes[sizes != dtype.itemsize][0])
            raise RingBufferError(f"{self.name}: a record of {wrong} bytes does not fit a {dtype.itemsize}-byte dtype")
        kept = frames["record"][(lengths & _DISCARD) == 0].copy()
        _POS.pack_into(self._consumer, 0, consumer + len(frames) * stride)
        return kept

    def available(self) -> int:
        """Bytes written by the producer and not yet consumed (records plus headers)."""
        return _POS.unpack_from(self._producer, 0)[0] - _POS.unpack_from(self._consumer, 0)[0]

    @classmethod
    def of(cls, ring_map: object) -> RingBuffer:
        """A reader for a loaded ring buffer map (anything with ``fd``, ``max_entries``, ``name``)."""
        return cls(ring_map.fd, ring_map.max_entries, name=getattr(ring_map, "name", "ringbuf"))  # type: ignore[attr-defined]

    def fileno(self) -> int:
        """The map's fd: epoll reports it readable when records arrive."""
        return self.fd

    def close(self) -> None:
        """Unmap (the map fd stays with the map's owner)."""
        self._data.release()
        self._producer.close()
        self._consumer.close()

    def __enter__(self) -> RingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventPoller:
    """One epoll loop over several event sources (ring buffers, perf rings), each with a
    callback; :meth:`poll` waits, then drains every ready source."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._sources: dict[int, tuple[Callable[[], Iterator[bytes]], Callable[[bytes], None]]] = {}

    def add(self, fd: int, drain: Callable[[], Iterator[bytes]], callback: Callable[[bytes], None]) -> None:
        """Watch ``fd``; when ready, feed everything ``drain()`` yields to ``callback``."""
        self._epoll.register(fd, select.EPOLLIN)
        self._sources[fd] = (drain, callback)

    def add_ring_buffer(self, ring: RingBuffer, callback: Callable[[bytes], None]) -> None:
        """Watch a ring buffer."""
        self.add(ring.fileno(), ring.records, callback)

    def poll(self, timeout: float | None = None) -> int:
        """Wait up to ``timeout`` seconds (None: forever); returns records delivered."""
        delivered = 0
        for fd, _ in self._epoll.poll(-1 if timeout is None else timeout):
            drain, callback = self._sources[fd]
            for record in drain():
                callback(record)
                delivered += 1
        return delivered

    def drain(self) -> int:
        """Deliver what is there without waiting (e.g. before closing)."""
        delivered = 0
        for drain, callback in self._sources.values():
            for record in drain():
                callback(record)
                delivered += 1
        return delivered

    def run(self, duration: float | None = None, interval: float = 0.2) -> None:
        """Deliver events until ``duration`` seconds pass (None: until Ctrl-C), then
        deliver what is left; Ctrl-C ends the loop quietly."""
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                self.poll(timeout=interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
        self.drain()

    def close(self) -> None:
        """Stop watching (the sources stay open)."""
        self._epoll.close()

    def __enter__(self) -> EventPoller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
