"""Reading a perf event's mmap ring buffer: samples (tracepoint records, profiler
stacks, BPF ``perf_event_output`` data) and the kernel's reports of lost samples.

The ring is one metadata page followed by 2^n data pages. The kernel advances
``data_head``; the reader consumes records up to it and publishes ``data_tail`` so
the space can be reused. Records may wrap at the end of the data area. Lost samples
arrive as PERF_RECORD_LOST records and are counted, never silently dropped.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from pybpf.kernel.perf_event import (
    SAMPLE_ADDR,
    SAMPLE_CALLCHAIN,
    SAMPLE_CPU,
    SAMPLE_ID,
    SAMPLE_IP,
    SAMPLE_PERIOD,
    SAMPLE_RAW,
    SAMPLE_TID,
    SAMPLE_TIME,
    PerfEventError,
)

RECORD_LOST = 2
RECORD_SAMPLE = 9
RECORD_LOST_SAMPLES = 13

# offsets in struct perf_event_mmap_page
_DATA_HEAD = 1024
_DATA_TAIL = 1032
_DATA_OFFSET = 1040
_DATA_SIZE = 1048
_HEADER = struct.Struct("<IHH")
_U64 = struct.Struct("<Q")
#: callchain context markers (PERF_CONTEXT_KERNEL, _USER, ...): values >= this are markers
_CONTEXT_MAX = 0xFFFFFFFFFFFFF000
PERF_CONTEXT_KERNEL = 0xFFFFFFFFFFFFFF80
PERF_CONTEXT_USER = 0xFFFFFFFFFFFFFE00


class Sample(NamedTuple):
    """A PERF_RECORD_SAMPLE with the fields ``sample_type`` asked for (others None/empty)."""

    ip: int | None = None
    pid: int | None = None
    tid: int | None = None
    time: int | None = None
    addr: int | None = None
    id: int | None = None
    cpu: int | None = None
    period: int | None = None
    kernel_stack: tuple[int, ...] = ()
    user_stack: tuple[int, ...] = ()
    raw: bytes = b""


class PerfRing:
    """The mmap ring of one perf event fd."""

    def __init__(self, fd: int, pages: int = 8) -> None:
        if pages <= 0 or pages & (pages - 1):
            raise PerfEventError(f"perf ring size must be a power of two pages, got {pages}")
        self.page_size = mmap.PAGESIZE
        try:
            self._map = mmap.mmap(fd, (pages + 1) * self.page_size, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            raise PerfEventError(f"cannot mmap {pages} pages of perf ring for fd {fd}: {exc.strerror}",
                                 exc.errno) from None
        offset, size = (_U64.unpack_from(self._map, o)[0] for o in (_DATA_OFFSET, _DATA_SIZE))
        self._data_offset = offset or self.page_size
        self._data_size = size or pages * self.page_size
        #: samples the kernel reported lost because this ring was full
        self.lost = 0

    def records(self) -> Iterator[tuple[int, int, bytes]]:
        """Consume what is there now: ``(type, misc, body)`` per record, body without
        the 8-byte header. Lost-record counts are added to :attr:`lost` (and yielded).
        The space is handed back to the kernel once the batch is consumed (or the
        iteration is abandoned)."""
        m = self._map
        head = _U64.unpack_from(m, _DATA_HEAD)[0]
        tail = _U64.unpack_from(m, _DATA_TAIL)[0]
        try:
            while tail < head:
                type_, misc, size = _HEADER.unpack(self._read(tail, 8))
                if size < 8:
                    raise PerfEventError(f"corrupt perf ring: record of size {size} at position {tail}")
                body = self._read(tail + 8, size - 8)
                tail += size
                self.lost += lost_count(type_, body)
                yield type_, misc, body
        finally:
            _U64.pack_into(m, _DATA_TAIL, tail)

    def raw_array(self, dtype: Any) -> Any:
        """Every ``bpf_perf_event_output`` sample waiting now, as one NumPy structured
        array of ``dtype`` (each sample's first ``dtype.itemsize`` bytes). When the ring
        holds only such samples, as at high rates, they are cut out by NumPy in one go;
        any other record (a loss report) sends the batch through :meth:`records`, which
        counts the losses."""
        import numpy

        dtype = numpy.dtype(dtype)
        m = self._map
        head = _U64.unpack_from(m, _DATA_HEAD)[0]
        tail = _U64.unpack_from(m, _DATA_TAIL)[0]
        # a SAMPLE_RAW record: 8-byte header, u32 size, data padded to an 8-byte multiple
        stride = 8 + ((4 + dtype.itemsize + 7) & ~7)
        pending = head - tail
        if pending and pending % stride == 0:
            framed = numpy.dtype({"names": ["type", "size", "raw", "record"], "formats": ["<u4", "<u2", "<u4", dtype],
                                  "offsets": [0, 6, 8, 12], "itemsize": stride})
            frames = numpy.frombuffer(self._read(tail, pending), dtype=framed)
            if (numpy.all(frames["type"] == RECORD_SAMPLE) and numpy.all(frames["size"] == stride)
                    and numpy.all(frames["raw"] >= dtype.itemsize)):
                _U64.pack_into(m, _DATA_TAIL, head)
                return frames["record"].copy()
        bodies = [body[4:4 + dtype.itemsize] for type_, _, body in self.records()
                  if type_ == RECORD_SAMPLE and int.from_bytes(body[:4], "little") >= dtype.itemsize]
        return numpy.frombuffer(b"".join(bodies), dtype=dtype).copy()

    def samples(self, sample_type: int) -> Iterator[Sample]:
        """The PERF_RECORD_SAMPLE records now in the ring, decoded for ``sample_type``."""
        for type_, _, body in self.records():
            if type_ == RECORD_SAMPLE:
                yield parse_sample(body, sample_type)

    def _read(self, position: int, length: int) -> bytes:
        start = position % self._data_size
        base = self._data_offset
        if start + length <= self._data_size:
            return self._map[base + start:base + start + length]
        first = self._data_size - start
        return self._map[base + start:base + self._data_size] + self._map[base:base + length - first]

    def close(self) -> None:
        """Unmap the ring (the event fd stays with its owner)."""
        self._map.close()

    def __enter__(self) -> PerfRing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lost_count(record_type: int, body: bytes) -> int:
    """How many samples a record reports lost (0 for records that are not loss reports)."""
    if record_type == RECORD_LOST:          # id, then the count
        return _U64.unpack_from(body, 8)[0]
    if record_type == RECORD_LOST_SAMPLES:  # the count first
        return _U64.unpack_from(body, 0)[0]
    return 0


def parse_sample(body: bytes, sample_type: int) -> Sample:
    """Decode a sample record's body; fields come in the kernel's fixed order."""
    pos = 0
    fields: dict[str, Any] = {}         # (Sample's fields, of their several types)

    def u64() -> int:
        nonlocal pos
        value = _U64.unpack_from(body, pos)[0]
        pos += 8
        return value

    if sample_type & SAMPLE_IP:
        fields["ip"] = u64()
    if sample_type & SAMPLE_TID:
        fields["pid"], fields["tid"] = struct.unpack_from("<II", body, pos)
        pos += 8
    if sample_type & SAMPLE_TIME:
        fields["time"] = u64()
    if sample_type & SAMPLE_ADDR:
        fields["addr"] = u64()
    if sample_type & SAMPLE_ID:
        fields["id"] = u64()
    if sample_type & SAMPLE_CPU:
        fields["cpu"] = struct.unpack_from("<I", body, pos)[0]
        pos += 8
    if sample_type & SAMPLE_PERIOD:
        fields["period"] = u64()
    if sample_type & SAMPLE_CALLCHAIN:
        count = u64()
        chain = struct.unpack_from(f"<{count}Q", body, pos)
        pos += 8 * count
        fields["kernel_stack"], fields["user_stack"] = split_callchain(chain)
    if sample_type & SAMPLE_RAW:
        size = struct.unpack_from("<I", body, pos)[0]
        fields["raw"] = bytes(body[pos + 4:pos + 4 + size])
        pos += 4 + size
    return Sample(**fields)


def split_callchain(chain: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split a callchain at its context markers into (kernel frames, user frames)."""
    kernel: list[int] = []
    user: list[int] = []
    current = kernel
    for address in chain:
        if address >= _CONTEXT_MAX:
            current = kernel if address == PERF_CONTEXT_KERNEL else user if address == PERF_CONTEXT_USER else current
            continue
        current.append(address)
    return tuple(kernel), tuple(user)
