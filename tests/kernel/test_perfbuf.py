"""The perf buffer on the kernel: samples a tracepoint program sends with
bpf_perf_event_output arrive with their CPU, through direct reads and a poll loop,
and overflow is reported as lost samples. Needs root."""

from __future__ import annotations

import os

import pytest

from pybpf.engine import load
from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.kernel.attach import attach
from pybpf.kernel.perf_event import online_cpus
from pybpf.kernel.perfbuf import PerfBuffer
from pybpf.kernel.ringbuf import EventPoller
from pybpf.object import CollectionSpec, MapSpec, ProgramSpec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="perf buffers need root")

PERF_EVENT_OUTPUT = 25
MARK = 0x5EED_0000_0000_0001


def _sender(tgid: int, size: int = 8) -> ProgramSpec:
    """On each hit by process ``tgid``: perf_event_output(ctx, events, CURRENT_CPU, &MARK, size)."""
    code = [
        Instruction(o.ALU64 | o.MOV | o.X, 6, 1, 0, 0),            # r6 = ctx
        Instruction(o.JMP | o.CALL, 0, 0, 0, 14),                  # get_current_pid_tgid
        Instruction(o.ALU64 | o.RSH | o.K, 0, 0, 0, 32),
        Instruction(o.JMP | o.JNE | o.K, 0, 0, 11 + size // 8, tgid),
    ]
    for offset in range(-size, 0, 8):                              # fill the buffer with MARK
        code += [Instruction(o.LDDW, 1, 0, 0, MARK), Instruction(o.STX | o.MEM | o.DW, 10, 1, offset, 0)]
    code += [
        Instruction(o.ALU64 | o.MOV | o.X, 1, 6, 0, 0),            # r1 = ctx
        Instruction(o.LDDW, 2, o.PSEUDO_MAP_FD, 0, 0),             # r2 = events
        Instruction(o.ALU | o.MOV | o.K, 3, 0, 0, -1),             # w3 = BPF_F_CURRENT_CPU
        Instruction(o.ALU64 | o.MOV | o.X, 4, 10, 0, 0),
        Instruction(o.ALU64 | o.ADD | o.K, 4, 0, 0, -size),        # r4 = buffer
        Instruction(o.ALU64 | o.MOV | o.K, 5, 0, 0, size),         # r5 = size
        Instruction(o.JMP | o.CALL, 0, 0, 0, PERF_EVENT_OUTPUT),
        Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 0),
        Instruction(o.JMP | o.EXIT, 0, 0, 0, 0),
    ]
    lddw = next(i for i, ins in enumerate(code) if ins.is_lddw and ins.src == o.PSEUDO_MAP_FD)
    # the pid check jumps over everything to the final r0 = 0
    slots = sum(ins.slots for ins in code[4:-2])
    code[3] = Instruction(o.JMP | o.JNE | o.K, 0, 0, slots, tgid)
    return ProgramSpec("sender", "tracepoint", code, references={lddw: "events"})


def _collection(size: int = 8):
    cpus = max(online_cpus()) + 1
    return load(CollectionSpec.of(MapSpec("events", "perf_event_array", 4, 4, cpus), _sender(os.getpid(), size)),
                engine="kernel")


def test_samples_arrive_with_their_cpu():
    with _collection() as coll, PerfBuffer(coll.maps["events"]) as perf:
        with attach(coll.programs["sender"], "tracepoint:syscalls:sys_enter_getppid"):
            for _ in range(5):
                os.getppid()
        records = list(perf.records())
    assert len(records) == 5 and perf.lost == 0
    assert all(cpu in online_cpus() for cpu, _ in records)
    # the raw payload is padded by the kernel to keep records 8-byte aligned
    assert all(data[:8] == MARK.to_bytes(8, "little") for _, data in records)


def test_poll_loop_and_lost_samples():
    got, lost = [], []
    with _collection(size=256) as coll, PerfBuffer(coll.maps["events"], pages=1) as perf, EventPoller() as poller:
        perf.add_to(poller, lambda cpu, data: got.append(cpu), lambda cpu, n: lost.append(n))
        with attach(coll.programs["sender"], "tracepoint:syscalls:sys_enter_getppid"):
            for _ in range(100):  # 100 × ~270 bytes overflow a one-page ring
                os.getppid()
            poller.poll(timeout=1.0)
            poller.drain()
            # the kernel reports a loss with the first record it can write afterwards
            os.getppid()
            poller.drain()
    assert got and sum(lost) > 0 and perf.lost == sum(lost)
    assert len(got) + sum(lost) == 101


def test_samples_in_numpy_batches():
    numpy = pytest.importorskip("numpy")
    dtype = numpy.dtype([("mark", "<u8"), ("second", "<u8")])
    with _collection(size=16) as coll, PerfBuffer(coll.maps["events"]) as perf:
        with attach(coll.programs["sender"], "tracepoint:syscalls:sys_enter_getppid"):
            for _ in range(7):
                os.getppid()
        batch = perf.read_array(dtype)
        assert perf.read_array(dtype).size == 0          # consumed
    assert batch.size == 7 and perf.lost == 0
    assert (batch["mark"] == MARK).all() and (batch["second"] == MARK).all()


def test_numpy_batches_count_losses_too():
    numpy = pytest.importorskip("numpy")
    with _collection(size=256) as coll, PerfBuffer(coll.maps["events"], pages=1) as perf:
        with attach(coll.programs["sender"], "tracepoint:syscalls:sys_enter_getppid"):
            for _ in range(100):
                os.getppid()
            first = perf.read_array(numpy.dtype([("mark", "<u8")]))
            os.getppid()                                  # carries the loss report
            second = perf.read_array(numpy.dtype([("mark", "<u8")]))
    assert (first["mark"] == MARK).all() and perf.lost > 0
    assert first.size + second.size + perf.lost == 101
