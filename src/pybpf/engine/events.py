"""One events API for what programs send to userspace, on both engines.

Programs send records through a ring buffer map (``bpf_ringbuf_output``/``submit``) or a
perf event array (``bpf_perf_event_output``). The kernel engine reads the first through
a shared mapping and the second through one perf ring per CPU; the vm engine keeps both
in Python lists. :class:`Events` hides the difference: iterate over it, poll it with a
timeout, hand it a callback, or take every waiting record as one NumPy array; lost
samples (perf rings that overflowed) are counted, never silently dropped.

Each engine's map class provides ``_event_source()``, returning an :class:`EventSource`:
the readiness file descriptors (none on the vm engine, whose programs run in the caller's
thread, so what they sent is already there) and a ``drain()`` of what is waiting.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from pybpf.resource import Resource

if TYPE_CHECKING:
    from dataclasses import dataclass

    from pybpf.engine.map import Map
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class Event:
    """One record: its bytes, the CPU it was sent on (perf buffers; None for ring
    buffers, which do not say), the map it came through, and ``value``: the record
    decoded by the ``decode`` given to :class:`Events` (else the bytes again)."""

    data: bytes
    cpu: int | None
    source: str
    value: Any


class EventSource(Protocol):
    """What an engine offers for one ring buffer or perf event array map."""

    name: str

    def fds(self) -> list[int]:
        """File descriptors that poll readable when records arrive (none: never wait)."""

    def drain(self) -> Iterator[tuple[int | None, bytes]]:
        """``(cpu, data)`` for every record waiting now, oldest first."""

    def read_array(self, dtype: Any) -> Any:
        """Every record waiting now as one NumPy structured array of ``dtype``."""

    @property
    def lost(self) -> int:
        """Records the producer dropped because the buffer was full."""

    def close(self) -> None:
        """Release mappings and per-CPU events."""


def _decoder(decode: Callable[[bytes], Any] | type | None) -> Callable[[bytes], Any]:
    """``decode`` as a function of the record's bytes: a ctypes type is read with
    ``from_buffer_copy`` (records shorter than the type are an error, longer ones are
    truncated to it, as a C cast would read them)."""
    if decode is None:
        return lambda data: data
    from_buffer_copy = getattr(decode, "from_buffer_copy", None)
    if from_buffer_copy is not None:
        import ctypes

        size = ctypes.sizeof(decode)  # type: ignore[arg-type]

        def read(data: bytes) -> Any:
            if len(data) < size:
                from pybpf.errors import CodecError

                raise CodecError(f"a {len(data)}-byte record is shorter than {decode.__name__} ({size} bytes)")
            return from_buffer_copy(data[:size])
        return read
    return decode


class Events(Resource):
    """Records from one or more ring buffer / perf event array maps of either engine.

    ``for event in events`` waits for records and yields them until the reader is closed
    (on the vm engine: yields what is waiting, then stops); :meth:`poll` waits up to a
    timeout; :meth:`run` calls a function per record; :meth:`read_array` returns every
    waiting record as a NumPy array. ``pages`` and ``wakeup_events`` size the kernel's
    per-CPU perf rings (ring buffers are sized by their map)."""

    def __init__(self, *maps: Map, decode: Callable[[bytes], Any] | type | None = None,
                 pages: int = 8, wakeup_events: int = 1) -> None:
        if not maps:
            raise TypeError("Events needs at least one ring buffer or perf event array map")
        self._decode = _decoder(decode)
        self._sources: list[EventSource] = []
        self._epoll: Any = None
        self._closed = False
        try:
            for event_map in maps:
                self._sources.append(event_map._event_source(pages=pages, wakeup_events=wakeup_events))
            fds = [fd for source in self._sources for fd in source.fds()]
            if fds:
                self._epoll = select.epoll()
                for fd in fds:
                    self._epoll.register(fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    @property
    def lost(self) -> int:
        """Records dropped by the producer so far (perf rings that overflowed)."""
        return sum(source.lost for source in self._sources)

    def _pending(self) -> list[Event]:
        return [Event(data, cpu, source.name, self._decode(data))
                for source in self._sources for cpu, data in source.drain()]

    def poll(self, timeout: float | None = None) -> list[Event]:
        """The records waiting now; if there are none, wait up to ``timeout`` seconds
        (None: until one comes) for some. The vm engine never waits: its programs ran
        in this thread, and sent all they will send."""
        self._check_open()
        events = self._pending()
        if events or self._epoll is None:
            return events
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._epoll.poll(-1 if left is None else left)
            events = self._pending()
            if events or (deadline is not None and time.monotonic() >= deadline):
                return events

    def __iter__(self) -> Iterator[Event]:
        """Every record, as it comes, until :meth:`close` (vm engine: until none is left)."""
        while not self._closed:
            events = self.poll(None if self._epoll is not None else 0)
            if not events and self._epoll is None:
                return
            yield from events

    def run(self, callback: Callable[[Event], object], duration: float | None = None) -> int:
        """Call ``callback`` for each record until ``duration`` seconds have passed (None:
        until Ctrl-C, which ends the run quietly); returns how many records it handled."""
        handled = 0
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                left = None if deadline is None else deadline - time.monotonic()
                events = self.poll(0.2 if left is None else min(left, 0.2))
                for event in events:
                    callback(event)
                handled += len(events)
                if self._epoll is None and not events:
                    break
        except KeyboardInterrupt:
            pass
        return handled

    def read_array(self, dtype: Any) -> Any:
        """Every record waiting now, from every map, as one NumPy structured array of
        ``dtype`` — decoded by NumPy in bulk, for rates Python loops cannot keep up with."""
        import numpy

        self._check_open()
        arrays = [source.read_array(dtype) for source in self._sources]
        return numpy.concatenate(arrays) if len(arrays) > 1 else arrays[0]

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the events reader is closed")

    def _close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        for source in self._sources:
            source.close()


def records_array(records: list[bytes], dtype: Any, name: str) -> Any:
    """``records`` (each exactly one ``dtype`` item) as a NumPy structured array: what an
    engine that keeps records as bytes returns from ``read_array``."""
    import numpy

    dtype = numpy.dtype(dtype)
    wrong = next((len(r) for r in records if len(r) != dtype.itemsize), None)
    if wrong is not None:
        from pybpf.errors import CodecError

        raise CodecError(f"{name}: a record of {wrong} bytes does not fit a {dtype.itemsize}-byte dtype")
    return numpy.frombuffer(b"".join(records), dtype=dtype).copy()
