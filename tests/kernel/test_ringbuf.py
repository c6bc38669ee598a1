"""The ring buffer reader on the kernel: records a program writes arrive in order,
discarded ones never, several buffers share one poll loop. Needs root."""

from __future__ import annotations

import os

import pytest

from pybpf.engine import BPFError, load
from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.kernel.ringbuf import EventPoller, RingBuffer, RingBufferError
from pybpf.object import CollectionSpec, MapSpec, ProgramSpec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loading BPF programs needs root")

_RINGBUF_OUTPUT = 130
_RINGBUF_RESERVE = 131
_RINGBUF_DISCARD = 133
SIZE = 4096 * 4


def _writer(name: str, map_name: str, value: int, helper: int) -> ProgramSpec:
    """Store ``value`` on the stack and pass 8 bytes of it to the ring buffer: with
    bpf_ringbuf_output, or reserved then discarded (nothing must arrive)."""
    code = [
        Instruction(o.LDDW, 1, 0, 0, value),                                 # r1 = value ll
        Instruction(o.STX | o.MEM | o.DW, 10, 1, -8, 0),                     # *(u64 *)(r10 -8) = r1
        Instruction(o.LDDW, 1, o.PSEUDO_MAP_FD, 0, 0),                       # r1 = map
    ]
    if helper == _RINGBUF_OUTPUT:
        code += [
            Instruction(o.ALU64 | o.MOV | o.X, 2, 10, 0, 0),                 # r2 = r10
            Instruction(o.ALU64 | o.ADD | o.K, 2, 0, 0, -8),                 # r2 += -8
            Instruction(o.ALU64 | o.MOV | o.K, 3, 0, 0, 8),                  # r3 = 8
            Instruction(o.ALU64 | o.MOV | o.K, 4, 0, 0, 0),                  # r4 = 0
            Instruction(o.JMP | o.CALL, 0, 0, 0, _RINGBUF_OUTPUT),
        ]
    else:
        code += [
            Instruction(o.ALU64 | o.MOV | o.K, 2, 0, 0, 8),                  # r2 = 8
            Instruction(o.ALU64 | o.MOV | o.K, 3, 0, 0, 0),                  # r3 = 0
            Instruction(o.JMP | o.CALL, 0, 0, 0, _RINGBUF_RESERVE),
            Instruction(o.JMP | o.JEQ | o.K, 0, 0, 3, 0),                    # if r0 == 0 goto out
            Instruction(o.ALU64 | o.MOV | o.X, 1, 0, 0, 0),                  # r1 = r0
            Instruction(o.ALU64 | o.MOV | o.K, 2, 0, 0, 0),                  # r2 = 0
            Instruction(o.JMP | o.CALL, 0, 0, 0, _RINGBUF_DISCARD),
        ]
    code += [Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 0), Instruction(o.JMP | o.EXIT, 0, 0, 0, 0)]
    return ProgramSpec(name, "socket_filter", code, references={2: map_name})


@pytest.fixture
def collection():
    spec = CollectionSpec.of(
        MapSpec("events", "ringbuf", max_entries=SIZE),
        MapSpec("other", "ringbuf", max_entries=SIZE),
        _writer("write_a", "events", 0x1111, _RINGBUF_OUTPUT),
        _writer("write_b", "other", 0x2222, _RINGBUF_OUTPUT),
        _writer("discard", "events", 0x3333, _RINGBUF_RESERVE),
    )
    try:
        with load(spec, engine="kernel") as loaded:
            yield loaded
    except BPFError as exc:
        pytest.skip(f"the kernel refused ring buffers: {exc}")


def _value(record: bytes) -> int:
    return int.from_bytes(record, "little")


def test_records_arrive_in_order_and_discards_never(collection):
    with RingBuffer(collection.maps["events"].fd, SIZE) as ring:
        assert list(ring.records()) == []
        for _ in range(3):
            collection.programs["write_a"].test_run(b"\0" * 64)
        collection.programs["discard"].test_run(b"\0" * 64)
        assert ring.available() > 0
        assert [_value(r) for r in ring.records()] == [0x1111] * 3
        assert ring.available() == 0


def test_wraparound_over_many_records(collection):
    program = collection.programs["write_a"]
    with RingBuffer(collection.maps["events"].fd, SIZE) as ring:
        seen = 0
        for _ in range(5):  # 5 × 700 records of 16 bytes: the ring wraps several times
            for _ in range(700):
                program.test_run(b"\0" * 64)
            seen += sum(1 for r in ring.records() if _value(r) == 0x1111)
        assert seen == 3500


def test_one_poll_loop_for_two_buffers(collection):
    got: list[tuple[str, int]] = []
    with RingBuffer(collection.maps["events"].fd, SIZE, name="events") as a, \
            RingBuffer(collection.maps["other"].fd, SIZE, name="other") as b, EventPoller() as poller:
        poller.add_ring_buffer(a, lambda r: got.append(("events", _value(r))))
        poller.add_ring_buffer(b, lambda r: got.append(("other", _value(r))))
        assert poller.poll(timeout=0) == 0
        collection.programs["write_a"].test_run(b"\0" * 64)
        collection.programs["write_b"].test_run(b"\0" * 64)
        delivered = 0
        while delivered < 2:
            count = poller.poll(timeout=1.0)
            assert count, "no ring buffer became ready within a second"
            delivered += count
    assert sorted(got) == [("events", 0x1111), ("other", 0x2222)]


def test_bad_size_and_fd():
    with pytest.raises(RingBufferError, match="not a power-of-two multiple"):
        RingBuffer(0, 1000)
    with pytest.raises(RingBufferError, match="cannot map ring buffer fd"):
        RingBuffer(999_999, SIZE)


def test_records_as_a_numpy_batch(collection):
    numpy = pytest.importorskip("numpy")
    with RingBuffer(collection.maps["events"].fd, SIZE) as ring:
        for _ in range(4):
            collection.programs["write_a"].test_run(b"\0" * 64)
        batch = ring.read_array(numpy.dtype("<u8"))
        assert list(batch) == [0x1111] * 4
        collection.programs["write_a"].test_run(b"\0" * 64)
        with pytest.raises(RingBufferError, match="does not fit a 4-byte dtype"):
            ring.read_array(numpy.dtype("<u4"))
