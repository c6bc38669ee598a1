"""Helpers on every engine: ring buffer records reserved, submitted and discarded,
bpf_skb_load_bytes, queue pushes from a program — the same results on kernel and vm."""

from __future__ import annotations

import pytest

from pybpf.engine import load
from pybpf.isa import assemble
from pybpf.object import CollectionSpec, MapSpec, ProgramSpec

PACKET = bytes(12) + b"\x08\x00" + bytes(range(50))


def _map_refs(program, name):
    """Every ``map[fd:0]`` of a program refers to map ``name``."""
    return {i: name for i, ins in enumerate(program) if ins.is_lddw and ins.src == 1}


def _records(engine, coll):
    ring = coll.maps["events"]
    if engine == "vm":
        return ring.drain()
    from pybpf.kernel.ringbuf import RingBuffer

    with RingBuffer(ring.fd, ring.max_entries) as reader:
        return list(reader.records())


def test_ringbuf_reserve_submit_discard(engine):
    program = assemble("""
        r6 = r1
        r1 = map[fd:0]
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = 0x1122334455667788 ll
        *(u64 *)(r0 +0) = r1
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r1 = map[fd:0]
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = r0
        r2 = 0
        call bpf_ringbuf_discard
    out:
        r0 = 0
        exit
    """)
    spec = CollectionSpec.of(MapSpec("events", "ringbuf", max_entries=4096),
                             ProgramSpec("rb", "socket_filter", program, references=_map_refs(program, "events")))
    with load(spec, engine=engine) as coll:
        coll.programs["rb"].test_run(PACKET, repeat=1)
        coll.programs["rb"].test_run(PACKET, repeat=1)
        assert _records(engine, coll) == [(0x1122334455667788).to_bytes(8, "little")] * 2


def test_skb_load_bytes(engine):
    program = assemble("""
        r2 = 2
        r3 = r10
        r3 += -8
        r4 = 4
        call bpf_skb_load_bytes
        if r0 != 0 goto out
        r0 = *(u32 *)(r10 -8)
        exit
    out:
        r0 = 99
        exit
    """)
    with load(ProgramSpec("lb", "sched_cls", program), engine=engine) as coll:
        assert coll.programs["lb"].test_run(PACKET).retval == int.from_bytes(PACKET[2:6], "little")


def test_queue_push_from_a_program(engine):
    program = assemble("""
        r1 = 7
        *(u32 *)(r10 -4) = r1
        r1 = map[fd:0]
        r2 = r10
        r2 += -4
        r3 = 0
        call bpf_map_push_elem
        exit
    """)
    spec = CollectionSpec.of(MapSpec("q", "queue", 0, 4, 2),
                             ProgramSpec("push", "socket_filter", program, references=_map_refs(program, "q")))
    with load(spec, engine=engine) as coll:
        results = [coll.programs["push"].test_run(PACKET).retval for _ in range(3)]
        assert results[:2] == [0, 0] and results[2] == (-7) & 0xFFFF_FFFF   # -E2BIG when full
        assert [coll.maps["q"].pop(), coll.maps["q"].pop()] == [7, 7]


@pytest.mark.parametrize("text, length", [
    ("r1 = r6\nr2 = -8\ncall bpf_xdp_adjust_head", len(PACKET) + 8),
    ("r1 = r6\nr2 = 6\ncall bpf_xdp_adjust_head", len(PACKET) - 6),
    ("r1 = r6\nr2 = -10\ncall bpf_xdp_adjust_tail", len(PACKET) - 10),
    ("r1 = r6\nr2 = 20\ncall bpf_xdp_adjust_tail", len(PACKET) + 20),
])
def test_xdp_adjust_head_and_tail(engine, text, length):
    program = assemble("r6 = r1\n" + text + """
        if r0 != 0 goto fail
        r2 = *(u32 *)(r6 +0)
        r3 = *(u32 *)(r6 +4)
        r3 -= r2
        r0 = r3
        exit
    fail:
        r0 = 1000
        exit
    """)
    with load(ProgramSpec("adj", "xdp", program), engine=engine) as coll:
        result = coll.programs["adj"].test_run(PACKET)
        assert result.retval == length and len(result.data_out) == length


def test_vm_per_cpu_maps_with_a_chosen_cpu_count():
    program = assemble("""
        *(u32 *)(r10 -4) = 0
        r1 = map[fd:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        call bpf_get_smp_processor_id
        r1 = map[fd:0]
        r2 = r10
        r2 += -4
        r6 = r0
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        *(u64 *)(r0 +0) = r6
    out:
        r0 = 0
        exit
    """)
    spec = CollectionSpec.of(MapSpec("pc", "percpu_array", 4, 8, 1),
                             ProgramSpec("cpu", "socket_filter", program, references=_map_refs(program, "pc")))
    with load(spec, engine="vm", cpus=6) as coll:
        for cpu in (1, 4):
            coll.programs["cpu"].test_run(PACKET, cpu=cpu)
        assert coll.maps["pc"][0] == [0, 1, 0, 0, 4, 0]


def test_vm_stack_ids_are_the_call_chain():
    program = assemble("""
        r6 = r1
        call pc+2
        r0 = 0
        exit
        r2 = map[fd:0]
        r3 = 0
        call bpf_get_stackid
        exit
    """)
    spec = CollectionSpec.of(MapSpec("stacks", "stack_trace", 4, 8 * 4, 16),
                             ProgramSpec("where", "kprobe", program, references=_map_refs(program, "stacks")))
    with load(spec, engine="vm") as coll:
        coll.programs["where"].test_run(PACKET)
        (stack_id,) = list(coll.maps["stacks"].keys())
        assert coll.maps["stacks"][stack_id][:2] == (7, 1)   # the helper call's slot, then the caller's call
