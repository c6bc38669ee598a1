"""Reading what BPF programs send with ``bpf_perf_event_output``: one ``bpf-output``
perf event and mmap ring per CPU, registered in the program's PERF_EVENT_ARRAY map.

Samples come back with the CPU they were written on; when a ring overflows the kernel
reports how many were lost, and so does :attr:`PerfBuffer.lost` (and the optional
``on_lost`` callback) — lost samples are counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from pybpf.kernel.perf_event import SAMPLE_RAW, PerfEvent, online_cpus
from pybpf.kernel.perf_ring import RECORD_SAMPLE, PerfRing, lost_count
from pybpf.kernel.ringbuf import EventPoller

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


class PerfBuffer:
    """Per-CPU rings behind a PERF_EVENT_ARRAY map (any map object supporting
    ``map[cpu] = perf_event``). ``wakeup_events`` samples are written before a poll
    wakes up: 1 for the lowest latency, more for batches at high rates (then drain the
    rings when you stop, to collect the samples still short of a wakeup)."""

    def __init__(self, perf_map: Any, *, pages: int = 8, cpus: Sequence[int] | None = None,
                 wakeup_events: int = 1) -> None:
        self._rings: list[tuple[int, PerfEvent, PerfRing]] = []
        self._lost_in_closed_rings = 0
        try:
            for cpu in cpus if cpus is not None else online_cpus():
                event = PerfEvent.software("bpf-output", cpu=cpu, sample_type=SAMPLE_RAW, sample_period=1,
                                           wakeup_events=wakeup_events)
                try:
                    ring = PerfRing(event.fileno(), pages)
                except BaseException:
                    event.close()
                    raise
                self._rings.append((cpu, event, ring))
                perf_map[cpu] = event
        except BaseException:
            self.close()
            raise

    @property
    def lost(self) -> int:
        """Samples the kernel dropped because a ring was full, over all CPUs."""
        return self._lost_in_closed_rings + sum(ring.lost for _, _, ring in self._rings)

    def records(self) -> Iterator[tuple[int, bytes]]:
        """``(cpu, data)`` for every sample waiting now, CPU by CPU."""
        for cpu, _, ring in self._rings:
            yield from ((cpu, data) for data in self._drainer(cpu, ring, None)())

    def fds(self) -> list[int]:
        """The per-CPU perf event fds, for a poll loop of the caller's own."""
        return [event.fileno() for _, event, _ in self._rings]

    def read_array(self, dtype: Any) -> Any:
        """Every sample waiting now on every CPU, as one NumPy structured array of
        ``dtype`` (CPU by CPU; see :meth:`PerfRing.raw_array`)."""
        import numpy

        arrays = [ring.raw_array(dtype) for _, _, ring in self._rings]
        return numpy.concatenate(arrays) if arrays else numpy.empty(0, dtype=dtype)

    def add_to(self, poller: EventPoller, callback: Callable[[int, bytes], None],
               on_lost: Callable[[int, int], None] | None = None) -> None:
        """Watch every CPU's ring in ``poller``: ``callback(cpu, data)`` per sample and
        ``on_lost(cpu, count)`` when the kernel reports losses."""
        for cpu, event, ring in self._rings:
            poller.add(event.fileno(), self._drainer(cpu, ring, on_lost),
                       lambda data, cpu=cpu: callback(cpu, data))

    @staticmethod
    def _drainer(cpu: int, ring: PerfRing, on_lost: Callable[[int, int], None] | None) -> Callable[[], Iterator[bytes]]:
        def drain() -> Iterator[bytes]:
            for type_, _, body in ring.records():
                if type_ == RECORD_SAMPLE:  # SAMPLE_RAW only: a u32 size, then the data
                    yield body[4:4 + int.from_bytes(body[:4], "little")]
                elif on_lost is not None and (lost := lost_count(type_, body)):
                    on_lost(cpu, lost)
        return drain

    def close(self) -> None:
        """Unmap every ring and close every event (the map entries go stale)."""
        while self._rings:
            _, event, ring = self._rings.pop()
            self._lost_in_closed_rings += ring.lost
            ring.close()
            event.close()

    def __enter__(self) -> PerfBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
