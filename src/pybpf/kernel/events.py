"""The kernel engine's event sources (:mod:`pybpf.engine.events`): a ring buffer map read
through its shared mapping, a perf event array through one ``bpf-output`` ring per CPU."""

from __future__ import annotations

from collections.abc import Iterator

from pybpf.kernel.perfbuf import PerfBuffer
from pybpf.kernel.ringbuf import RingBuffer

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


class RingBufferSource:
    """One ring buffer map; records carry no CPU."""

    lost = 0        # a full ring makes the program's output call fail; nothing is counted

    def __init__(self, ring_map: Any) -> None:
        self.name = ring_map.name
        self._ring = RingBuffer(ring_map.fd, ring_map.max_entries, name=ring_map.name)

    def fds(self) -> list[int]:
        return [self._ring.fileno()]

    def drain(self) -> Iterator[tuple[int | None, bytes]]:
        return ((None, data) for data in self._ring.records())

    def read_array(self, dtype: Any) -> Any:
        return self._ring.read_array(dtype)

    def close(self) -> None:
        self._ring.close()


class PerfBufferSource:
    """One perf event array map: a ring per CPU, registered in the map's slots."""

    def __init__(self, perf_map: Any, pages: int, wakeup_events: int) -> None:
        self.name = perf_map.name
        self._buffer = PerfBuffer(perf_map, pages=pages, wakeup_events=wakeup_events)

    @property
    def lost(self) -> int:
        return self._buffer.lost

    def fds(self) -> list[int]:
        return self._buffer.fds()

    def drain(self) -> Iterator[tuple[int | None, bytes]]:
        return iter(self._buffer.records())

    def read_array(self, dtype: Any) -> Any:
        return self._buffer.read_array(dtype)

    def close(self) -> None:
        self._buffer.close()
