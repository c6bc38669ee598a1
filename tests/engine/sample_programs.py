"""Small programs written as Instruction values, shared by the kernel tests."""

from __future__ import annotations

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.object import ProgramSpec, ProgramType

EXIT = Instruction(0x95)


def returns(value: int, name: str = "ret") -> ProgramSpec:
    """A socket filter that returns ``value``."""
    return ProgramSpec(name, ProgramType.SOCKET_FILTER, [Instruction(0xB7, 0, 0, 0, value), EXIT])


def packet_length(name: str = "len") -> ProgramSpec:
    """A socket filter returning skb->len (``r0 = *(u32 *)(r1 + 0)``)."""
    return ProgramSpec(name, ProgramType.SOCKET_FILTER, [Instruction(0x61, 0, 1, 0, 0), EXIT])


def counter(map_name: str, name: str = "count") -> ProgramSpec:
    """A socket filter adding 1 to the u64 at key 0 of ``map_name`` per run; returns 0."""
    return ProgramSpec(name, ProgramType.SOCKET_FILTER, [
        Instruction(0x62, 10, 0, -4, 0),          # *(u32 *)(r10 - 4) = 0
        Instruction(o.LDDW, 1, 0, 0, 0),          # r1 = map
        Instruction(0xBF, 2, 10),                 # r2 = r10
        Instruction(0x07, 2, 0, 0, -4),           # r2 += -4
        Instruction(0x85, 0, 0, 0, 1),            # call bpf_map_lookup_elem
        Instruction(0x15, 0, 0, 3, 0),            # if r0 == 0 goto +3
        Instruction(0x79, 1, 0, 0, 0),            # r1 = *(u64 *)(r0 + 0)
        Instruction(0x07, 1, 0, 0, 1),            # r1 += 1
        Instruction(0x7B, 0, 1, 0, 0),            # *(u64 *)(r0 + 0) = r1
        Instruction(0xB7, 0, 0, 0, 0),            # r0 = 0
        EXIT,
    ], references={1: map_name})


def uninitialized_read(name: str = "bad") -> ProgramSpec:
    """A program the verifier rejects: it reads r5, which nothing wrote."""
    return ProgramSpec(name, ProgramType.SOCKET_FILTER, [Instruction(0xBF, 0, 5), EXIT])


def tail_caller(map_name: str, index: int, name: str = "caller") -> ProgramSpec:
    """A socket filter that tail-calls slot ``index`` of program array ``map_name`` and
    returns 0 when the slot is empty."""
    return ProgramSpec(name, ProgramType.SOCKET_FILTER, [
        Instruction(o.LDDW, 2, 0, 0, 0),          # r2 = program array
        Instruction(0xB7, 3, 0, 0, index),        # r3 = index
        Instruction(0x85, 0, 0, 0, 12),           # call bpf_tail_call
        Instruction(0xB7, 0, 0, 0, 0),            # r0 = 0
        EXIT,
    ], references={0: map_name})
