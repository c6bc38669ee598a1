"""Running a loaded packet program over a sequence of packets.

Each packet goes through ``Program.test_run`` — BPF_PROG_TEST_RUN on the kernel engine,
the same context on the vm engine — so both engines build the packet's context as the
kernel does for a test run (an skb with its Ethernet header for tc, past it for socket
filters; an XDP frame with headroom for ``bpf_xdp_adjust_head``). The program's maps are
the collection's, untouched between packets: counters, flow tables and LRU state carry
from packet to packet as they would on a live interface.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pybpf.errors import BPFError, PybpfError
from pybpf.object import ProgramType
from pybpf.replay.verdicts import PACKET_TYPES, passes, verdict_name

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any

    from pybpf.capture import Packet
    from pybpf.engine import Program
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

#: the shortest packet a skb or XDP test run takes (an Ethernet header)
ETH_HLEN = 14


class ReplayError(PybpfError):
    """A program that cannot be replayed over packets (not a packet program)."""


@dataclass(frozen=True)
class PacketResult:
    """One packet's outcome. ``retval`` is r0 as the test run reports it; ``verdict`` its
    name (``XDP_PASS``, ``TC_ACT_SHOT``, ``ACCEPT``...); ``data`` the packet as the program
    left it (after ``bpf_xdp_adjust_head``, header rewrites; a socket filter's accepted
    length); ``error`` is set, and the packet counted as ``ERROR``, when the engine
    refused to run the packet at all (a runt frame shorter than an Ethernet header)."""

    index: int
    retval: int
    verdict: str
    passed: bool
    data_in: bytes
    data: bytes
    timestamp_ns: int = 0
    error: str = ""

    @property
    def length_in(self) -> int:
        """The packet's length before the program."""
        return len(self.data_in)

    @property
    def length_out(self) -> int:
        """The packet's length after the program (0 for a dropped packet)."""
        return len(self.data) if self.passed else 0

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object for this packet."""
        out: dict[str, Any] = {"index": self.index, "verdict": self.verdict, "retval": self.retval,
                               "length_in": self.length_in, "length_out": self.length_out}
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Summary:
    """Counts of verdicts over a replay, and of bytes in and out."""

    counts: Counter[str] = field(default_factory=Counter)
    packets: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, result: PacketResult) -> None:
        self.counts[result.verdict] += 1
        self.packets += 1
        self.bytes_in += result.length_in
        self.bytes_out += result.length_out

    def lines(self) -> list[str]:
        """The verdict table ``pybpf replay`` prints: count and share of each verdict."""
        rows = [f"{self.packets} packets, {self.bytes_in} bytes in, {self.bytes_out} bytes out"]
        for verdict, count in sorted(self.counts.items(), key=lambda item: (-item[1], item[0])):
            share = 100.0 * count / self.packets if self.packets else 0.0
            rows.append(f"  {verdict:<20} {count:>10} {share:6.2f}%")
        return rows


def _packets(packets: Iterable[bytes | Packet]) -> Iterator[tuple[bytes, int]]:
    for packet in packets:
        if isinstance(packet, (bytes, bytearray, memoryview)):
            yield bytes(packet), 0
        else:
            yield packet.data, packet.timestamp_ns


def replay(program: Program, packets: Iterable[bytes | Packet]) -> Iterator[PacketResult]:
    """Run ``program`` (a loaded XDP, tc, socket-filter or cgroup-skb program, on either
    engine) on each packet in turn, yielding one :class:`PacketResult` per packet.

    A vm-engine program the JIT compiled runs over chunks of packets in one native loop
    (``run_packets``: the same test runs, without Python between packets); any other
    program runs packet by packet through ``test_run``."""
    kind = program.type
    if kind not in PACKET_TYPES:
        raise ReplayError(f"program {program.name!r} is a {kind} program; replay runs packet programs "
                          f"({', '.join(str(t) for t in PACKET_TYPES)})")
    run_packets = getattr(program, "run_packets", None)
    with _on_one_cpu(program):
        yield from _replayed(program, packets, run_packets)


def _replayed(program: Program, packets: Iterable[bytes | Packet], run_packets: Any) -> Iterator[PacketResult]:
    kind, index = program.type, 0
    for chunk in _chunks(_packets(packets), _CHUNK):
        outcomes = run_packets([data for data, _ in chunk]) if run_packets is not None else None
        if outcomes is None:
            for data, timestamp in chunk:
                yield _tested(program, index, data, timestamp)
                index += 1
            continue
        for (data, timestamp), outcome in zip(chunk, outcomes):
            if outcome is None:     # a packet the test run refuses: its error, as test_run gives it
                yield _tested(program, index, data, timestamp)
            else:
                yield _result(kind, index, data, timestamp, *outcome)
            index += 1


#: the CPU a replay's test runs run on: the vm engine's (``test_run(cpu=0)``), and the one
#: the kernel engine's thread is pinned to, so per-CPU maps and bpf_get_smp_processor_id
#: give the same on both engines, whatever CPU the scheduler would have picked
REPLAY_CPU = 0


@contextmanager
def _on_one_cpu(program: Program) -> Iterator[None]:
    """Pin the calling thread to :data:`REPLAY_CPU` while a kernel-engine replay runs.
    BPF_PROG_TEST_RUN runs skb and XDP programs on the CPU it is called from (it takes
    no ``cpu`` for them), so without this a replay's per-CPU counters land on whichever
    CPUs the thread wandered over. The thread's own mask is given back after; it is left
    as it is where the CPU is outside the thread's cpuset (EINVAL)."""
    if program.engine != "kernel" or not hasattr(os, "sched_setaffinity"):
        yield
        return
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {REPLAY_CPU})
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


#: packets handed to a program's native loop at a time
_CHUNK = 65536


def _chunks(items: Iterator[tuple[bytes, int]], size: int) -> Iterator[list[tuple[bytes, int]]]:
    chunk: list[tuple[bytes, int]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


#: the most a test run's packet grows by: XDP's headroom (adjust_head) and a page, which
#: adjust_tail may add to a packet's last fragment (the buffer for the packet out is this
#: much longer than the packet in: the kernel refuses a run whose packet outgrows it)
GROWTH = 256 + 4096


def _tested(program: Program, index: int, data: bytes, timestamp: int) -> PacketResult:
    """One packet through ``program.test_run`` (an ERROR result where no test run takes it)."""
    if len(data) < ETH_HLEN:
        return PacketResult(index, 0, "ERROR", False, data, b"", timestamp,
                            f"{len(data)} bytes: shorter than an Ethernet header, so no test run takes it")
    try:
        result = program.test_run(data, data_out_size=len(data) + GROWTH)
    except BPFError as exc:
        return PacketResult(index, 0, "ERROR", False, data, b"", timestamp, str(exc))
    return _result(program.type, index, data, timestamp, result.retval, result.data_out)


def _result(kind: ProgramType, index: int, data: bytes, timestamp: int, retval: int, data_out: bytes) -> PacketResult:
    """A packet's result from its r0 and the packet the test run gave back."""
    if kind not in (ProgramType.SOCKET_FILTER, ProgramType.CGROUP_SKB):
        out = data_out
    elif kind == ProgramType.SOCKET_FILTER:      # the filter keeps this many bytes of the packet
        out = data[:min(retval & 0xFFFF_FFFF, len(data))]
    else:                                        # cgroup skb programs cannot change the packet
        out = data
    return PacketResult(index, retval, verdict_name(kind, retval), passes(kind, retval), data, out, timestamp)


#: records per native batch when only counts are kept (no packet is copied out: larger
#: batches cost memory for the records' addresses only, and fewer calls from Python)
SUMMARY_BATCH = 65536


def replay_summary(program: Program, capture: Any, path: str = "") -> Summary | None:
    """The verdict counts of ``program`` over a pcap file's packets without a Python
    object per packet: the capture walked natively in batches of records
    (:func:`pybpf.pcapfilter.batch.batches`) straight into the vm JIT's packet loop
    (``program.packet_batches()``), verdicts tallied natively. None where either side
    cannot (the kernel engine, the interpreter, pcapng, a program the JIT cannot batch):
    iterate :func:`replay` instead. Packets run, maps change and errors are raised as
    :func:`replay` does."""
    batches_of = getattr(program, "packet_batches", None)
    runs = batches_of(keep_packets=False) if batches_of is not None else None
    if runs is None:
        return None
    from pybpf.pcapfilter.batch import batches  # the native pcap walker `pybpf filter` uses

    records = batches(capture, SUMMARY_BATCH)
    if records is None:
        runs.close()
        return None
    from pybpf.capture.packet import LinkType
    from pybpf.capture.pcap import max_caplen

    kind, summary, seen = program.type, Summary(), 0
    tally = _Tally(kind)
    try:
        for batch in records:
            count = batch.count
            if batch.linktype != LinkType.EN10MB:
                raise PybpfError(f"{path}: packet {seen + 1} has link type {batch.linktype}; "
                                 "replay runs Ethernet captures (what XDP and tc see)")
            done = runs.run(batch.hosts, batch.caplens, count, max_caplen(batch.linktype))   # (the walker's limit)
            tallied = tally.add(runs, batch.caplens, done)
            if tallied < done:          # a verdict past the tally's range: the rest with NumPy
                import numpy

                lengths = numpy.frombuffer(memoryview(batch.caplens), dtype=numpy.uint64,
                                           count=done).astype(numpy.int64)[tallied:]
                retvals = (numpy.frombuffer(runs.results, dtype=numpy.uint64, count=done) & 0xFFFF_FFFF)[tallied:]
                heads = numpy.frombuffer(runs.heads, dtype=numpy.uint64, count=done)[tallied:]
                tails = numpy.frombuffer(runs.tails, dtype=numpy.uint64, count=done)[tallied:]
                skipped = heads == numpy.uint64((1 << 64) - 1)
                _count_batch(summary, kind, lengths, retvals, heads, tails, skipped)
            seen += count
            if done < count:
                runs.fault()
    finally:
        runs.close()
        records.close()
    tally.finish(summary)
    return summary


#: verdicts the native tally counts (:class:`_Tally`): r0's low 32 bits from -TALLY_BIAS
#: (tc's negative actions, a socket filter's -1) to TALLY_LIMIT - TALLY_BIAS - 1 (socket
#: filters' lengths up to 64 KiB)
TALLY_BIAS, TALLY_LIMIT = 16, (1 << 16) + 16


class _Tally:
    """Verdict counts and bytes out, kept by native code (``pcap_tally``) across a
    replay's batches: one call per batch instead of a dozen passes over NumPy arrays,
    turned into verdict names once at the end."""

    def __init__(self, kind: ProgramType):
        import ctypes

        from pybpf.pcapfilter.walker import native

        walker = native()
        assert walker is not None, "replay_summary walks the capture with the native walker"
        self._fn, self.kind = walker.tally, kind
        self._out = 1 if kind == ProgramType.SOCKET_FILTER else 2 if kind == ProgramType.CGROUP_SKB else 0
        self.counts, self.sizes = (ctypes.c_uint64 * TALLY_LIMIT)(), (ctypes.c_uint64 * TALLY_LIMIT)()
        self.totals, self.seen = (ctypes.c_uint64 * 3)(), (ctypes.c_uint64 * TALLY_LIMIT)()
        self.packets = 0

    def add(self, runs: Any, lengths: Any, count: int) -> int:
        """Tally the first ``count`` runs of ``runs`` (a PacketBatches); how many it took
        (fewer: the next one's verdict is out of range)."""
        import ctypes

        tallied = int(self._fn(ctypes.addressof(runs.results), ctypes.addressof(runs.heads),
                               ctypes.addressof(runs.tails), ctypes.addressof(lengths), count, (1 << 64) - 1,
                               TALLY_BIAS, self._out, TALLY_LIMIT, self.counts, self.sizes, self.totals,
                               self.seen))
        self.packets += tallied
        return tallied

    def finish(self, summary: Summary) -> None:
        """Add the tallies to ``summary`` (without NumPy, whose import alone costs
        ``pybpf replay`` a tenth of a second)."""
        for index in sorted(self.seen[:self.totals[2]]):
            retval = (index - TALLY_BIAS) & 0xFFFF_FFFF
            summary.counts[verdict_name(self.kind, retval)] += self.counts[index]
            if passes(self.kind, retval):
                summary.bytes_out += self.sizes[index]
        if self.totals[0]:
            summary.counts["ERROR"] += self.totals[0]
        summary.packets += self.packets
        summary.bytes_in += self.totals[1]


#: retvals below this are counted with a bincount (XDP and tc verdicts, short lengths)
SMALL_VERDICTS = 1 << 16


def _count_batch(summary: Summary, kind: ProgramType, lengths: Any, retvals: Any, heads: Any, tails: Any,
                 skipped: Any) -> None:
    """Add one batch's packets to ``summary`` as :meth:`Summary.add` would, one by one."""
    import numpy

    ran = ~skipped
    summary.packets += len(lengths)
    summary.bytes_in += int(lengths.sum())
    if skipped.any():
        summary.counts["ERROR"] += int(skipped.sum())
        retvals = retvals[ran]
    if len(retvals) and int(retvals.max()) < SMALL_VERDICTS:     # the usual verdicts: counted without a sort
        index = retvals.astype(numpy.intp)
        tallies = numpy.bincount(index)
        values = numpy.flatnonzero(tallies)
        tallies = tallies[values]
        passing = numpy.zeros(int(values[-1]) + 1, dtype=bool)
        passing[values] = [passes(kind, int(v)) for v in values]
        passed = passing[index]
    else:
        values, inverse = numpy.unique(retvals, return_inverse=True)
        tallies = numpy.bincount(inverse, minlength=len(values))
        passed = numpy.array([passes(kind, int(v)) for v in values], dtype=bool)[inverse]
    for value, n in zip(values, tallies):
        summary.counts[verdict_name(kind, int(value))] += int(n)
    if kind == ProgramType.SOCKET_FILTER:
        out = numpy.minimum(retvals.astype(numpy.int64), lengths[ran])
    elif kind == ProgramType.CGROUP_SKB:
        out = lengths[ran]
    else:           # XDP and tc: the packet as the program left it in its slot
        out = (tails[ran] - heads[ran]).astype(numpy.int64)
    summary.bytes_out += int(out[passed].sum())


def replay_verdicts(program: Program, packets: Iterable[bytes | Packet]) -> Any:
    """Every packet's r0 as a NumPy ``int64`` array (ERROR packets are -1): the form for
    assertions over whole captures (``(verdicts == XDP_DROP).sum()``)."""
    import numpy

    return numpy.fromiter((r.retval if not r.error else -1 for r in replay(program, packets)), dtype=numpy.int64)
