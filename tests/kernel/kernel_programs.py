"""Small BPF programs the kernel tests attach, written as Instruction values (they need
nothing but pybpf.isa) and one place that builds their collections."""

from __future__ import annotations

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.object import MapSpec, ProgramSpec

MAP_LOOKUP_ELEM = 1
GET_CURRENT_PID_TGID = 14


def counter_map(name: str = "hits") -> MapSpec:
    """One u64 counter at key 0."""
    return MapSpec(name, "array", 4, 8, 1)


def counting(name: str, program_type: str, *, tgid: int | None = None, retval: int = 0,
             map_name: str = "hits", section: str = "") -> ProgramSpec:
    """Add 1 to ``map_name[0]`` on every run (only when the current process is ``tgid``,
    if given), then return ``retval``."""
    code: list[Instruction] = []
    out_jumps = []
    if tgid is not None:
        code += [
            Instruction(o.JMP | o.CALL, 0, 0, 0, GET_CURRENT_PID_TGID),
            Instruction(o.ALU64 | o.RSH | o.K, 0, 0, 0, 32),
        ]
        out_jumps.append(len(code))
        code.append(Instruction(o.JMP | o.JNE | o.K, 0, 0, 0, tgid))
    code += [
        Instruction(o.ST | o.MEM | o.W, 10, 0, -4, 0),                 # *(u32 *)(r10 -4) = 0
        Instruction(o.LDDW, 1, o.PSEUDO_MAP_FD, 0, 0),                 # r1 = map
        Instruction(o.ALU64 | o.MOV | o.X, 2, 10, 0, 0),               # r2 = r10
        Instruction(o.ALU64 | o.ADD | o.K, 2, 0, 0, -4),               # r2 += -4
        Instruction(o.JMP | o.CALL, 0, 0, 0, MAP_LOOKUP_ELEM),
    ]
    lddw_index = len(code) - 4
    out_jumps.append(len(code))
    code += [
        Instruction(o.JMP | o.JEQ | o.K, 0, 0, 0, 0),                  # if r0 == 0 goto out
        Instruction(o.ALU64 | o.MOV | o.K, 1, 0, 0, 1),                # r1 = 1
        Instruction(o.STX | o.ATOMIC | o.DW, 0, 1, 0, o.ADD),          # lock *(u64 *)(r0 +0) += r1
    ]
    out = len(code)
    code += [Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, retval), Instruction(o.JMP | o.EXIT, 0, 0, 0, 0)]
    slots = [0]
    for ins in code:
        slots.append(slots[-1] + ins.slots)
    for index in out_jumps:  # jump offsets count slots
        ins = code[index]
        code[index] = Instruction(ins.opcode, ins.dst, ins.src, slots[out] - slots[index + 1], ins.imm)
    return ProgramSpec(name, program_type, code, references={lddw_index: map_name}, section=section)
