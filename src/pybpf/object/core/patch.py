"""Writing CO-RE results into instructions, and poisoning the ones that cannot be.

A relocated instruction carries its constant in one of three places: the immediate of an
``ALU``/``ALU64`` instruction with a constant operand (``r1 = 8``, ``r1 += 8``), the
offset of a load or store (``r0 = *(u32 *)(r1 + 8)``), or the 64-bit immediate of an
``lddw``. The instruction must hold the local value clang computed (unless the field is a
bitfield, where clang may have chosen another load); a mismatch means the object and its
BTF disagree, and is an error.

An unsatisfiable relocation does what libbpf does: the instruction becomes a call of
helper ``0xbad2310`` ("bad relo"), which no kernel has, so the program is refused only if
that instruction is reachable — code behind ``bpf_core_field_exists()`` checks loads on
kernels without the field. Both engines name the failed relocation when they refuse it.
"""

from __future__ import annotations

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.isa.helpers import POISON_HELPER, is_poison  # noqa: F401 (is_poison: pybpf.object.core's)
from pybpf.object.core.calc import ReloKind, Result

_SIZES = {1: o.B, 2: o.H, 4: o.W, 8: o.DW}


class PatchError(Exception):
    """The instruction cannot take the relocation (the caller adds where)."""


def poison() -> Instruction:
    """A call of the helper no kernel has."""
    return Instruction(o.JMP | o.CALL, imm=POISON_HELPER)


def _s32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >> 31 else value


def patch(ins: Instruction, kind: ReloKind, result: Result) -> Instruction | None:
    """``ins`` with the relocation's new value, or None when it must be poisoned (the
    result asked for it, or a load's size cannot follow the field's)."""
    if result.poison:
        return None
    cls = ins.cls
    if cls in (o.ALU, o.ALU64):
        if o.source(ins.opcode) != o.K:
            raise PatchError("an ALU instruction with a register operand has no constant to relocate")
        if result.validate and ins.imm & 0xFFFF_FFFF != result.old & 0xFFFF_FFFF:
            raise PatchError(f"holds {ins.imm}, but the local BTF gives {result.old}")
        return ins.replace(imm=_s32(result.new))
    if cls in (o.LDX, o.ST, o.STX):
        if result.validate and ins.off != result.old:
            raise PatchError(f"has offset {ins.off}, but the local BTF gives {result.old}")
        if result.new > 0x7FFF:
            raise PatchError(f"the target's offset {result.new} does not fit an instruction's 16-bit offset")
        if kind == ReloKind.FIELD_BYTE_OFFSET and result.old_size != result.new_size:
            if result.size_unsafe:
                return None
            current = o.SIZE_BYTES[o.size(ins.opcode)]
            if current != result.old_size:
                raise PatchError(f"accesses {current} bytes of a {result.old_size}-byte field")
            if result.new_size not in _SIZES:
                return None
            opcode = (ins.opcode & ~0x18) | _SIZES[result.new_size]
            return ins.replace(opcode=opcode, off=result.new)
        return ins.replace(off=result.new)
    if ins.is_lddw:
        if ins.src or ins.off:
            raise PatchError("an lddw of a map, variable or function carries no CO-RE constant")
        if result.validate and ins.imm != result.old & ((1 << 64) - 1):
            raise PatchError(f"holds {ins.imm}, but the local BTF gives {result.old}")
        return ins.replace(imm=result.new & ((1 << 64) - 1))
    raise PatchError(f"opcode 0x{ins.opcode:02x} carries no constant to relocate")


def poisoned(ins: Instruction) -> list[Instruction]:
    """What replaces a poisoned instruction: one call per slot, so jumps over an lddw
    still land where they did."""
    return [poison()] * ins.slots
