"""Bytes <-> instructions: RFC 9669's little-endian 8-byte slot encoding.

Slot layout: opcode (u8), dst (low nibble) and src (high nibble) registers (u8),
offset (s16), immediate (s32). The 64-bit immediate load takes two slots; the second
slot's opcode, registers and offset must be zero and its immediate is the high half.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from pybpf.isa import opcodes as o
from pybpf.isa.instruction import (
    Instruction,
    InvalidInstruction,
    check,
    field_problem,
    problem,
)

_SLOT = struct.Struct("<BBhi")
SLOT_SIZE = _SLOT.size


def decode(data: bytes | bytearray | memoryview, *, strict: bool = True) -> list[Instruction]:
    """Decode raw instruction bytes.

    With ``strict`` (the default) every instruction must be valid (:func:`problem`);
    otherwise only the framing is checked (whole slots, a complete lddw pair), which is
    what a tool that shows broken programs needs.
    """
    data = bytes(data)
    if len(data) % SLOT_SIZE:
        raise InvalidInstruction(
            len(data) // SLOT_SIZE,
            f"{len(data)} bytes is not a whole number of 8-byte instructions "
            f"({len(data) % SLOT_SIZE} bytes left over)",
        )
    out: list[Instruction] = []
    slot = 0
    nslots = len(data) // SLOT_SIZE
    while slot < nslots:
        opcode, regs, off, imm = _SLOT.unpack_from(data, slot * SLOT_SIZE)
        if opcode == o.LDDW:
            if slot + 1 >= nslots:
                raise InvalidInstruction(slot, "lddw needs a second slot, but the program ends")
            op2, regs2, off2, imm2 = _SLOT.unpack_from(data, (slot + 1) * SLOT_SIZE)
            if op2 or regs2 or off2:
                raise InvalidInstruction(
                    slot, "lddw's second slot must have zero opcode, registers and offset"
                )
            imm = (imm & 0xFFFF_FFFF) | ((imm2 & 0xFFFF_FFFF) << 32)
        ins = Instruction(opcode, regs & 0x0F, regs >> 4, off, imm)
        if strict:
            check(ins, slot)
        out.append(ins)
        slot += ins.slots
    return out


def encode(instructions: Iterable[Instruction], *, strict: bool = True) -> bytes:
    """Encode instructions to bytes; ``strict`` refuses invalid ones (field widths always)."""
    parts: list[bytes] = []
    slot = 0
    for ins in instructions:
        reason = field_problem(ins) or (problem(ins) if strict else None)
        if reason:
            raise InvalidInstruction(slot, reason)
        regs = ins.dst | (ins.src << 4)
        if ins.is_lddw:
            low = ins.imm & 0xFFFF_FFFF
            high = ins.imm >> 32
            parts.append(_SLOT.pack(ins.opcode, regs, ins.off, _s32(low)))
            parts.append(_SLOT.pack(0, 0, 0, _s32(high)))
        else:
            parts.append(_SLOT.pack(ins.opcode, regs, ins.off, ins.imm))
        slot += ins.slots
    return b"".join(parts)


def _s32(value: int) -> int:
    return value - (1 << 32) if value & 0x8000_0000 else value


def slot_offsets(instructions: Iterable[Instruction]) -> list[int]:
    """The slot index where each instruction starts (jump offsets count slots)."""
    offsets, slot = [], 0
    for ins in instructions:
        offsets.append(slot)
        slot += ins.slots
    return offsets
