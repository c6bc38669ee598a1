"""The eBPF instruction: one immutable value per logical instruction, and its validity.

An :class:`Instruction` holds the five fields of RFC 9669's encoding. The 64-bit immediate
load (``lddw``, opcode 0x18) is one Instruction that occupies two 8-byte slots; its ``imm``
holds the whole 64-bit value (low half from the first slot, high half from the second),
as an unsigned integer. Every other instruction's ``imm`` is a signed 32-bit integer.

:func:`problem` says what is wrong with an instruction (reserved fields set, unknown
opcode, out-of-range register) in a sentence, or returns None for a valid one. The
decoder, the encoder and the engines all use it, so "valid" means one thing everywhere.
"""

from __future__ import annotations

from pybpf._dataclass import MISSING, Field, describe
from pybpf.errors import PybpfError
from pybpf.isa import opcodes as o


class InvalidInstruction(PybpfError):
    """An instruction that RFC 9669 (or the kernel) does not define, with its index."""

    def __init__(self, index: int | None, reason: str):
        self.index = index
        self.reason = reason
        where = f"instruction {index}: " if index is not None else ""
        super().__init__(f"{where}{reason}")


class Instruction:
    """One eBPF instruction. Construct freely; :func:`problem` tells whether it is valid.

    An immutable value, as a ``@dataclass(frozen=True, slots=True)`` would make it, written
    out: the dataclass decorator imports ``dataclasses`` (and with it ``inspect``, ``ast``
    and ``dis``: ~10 ms), which ``pybpf asm`` and ``disasm`` otherwise never need. It is
    still a dataclass to :mod:`dataclasses` (``replace``, ``fields``, ``asdict``): its
    ``__dataclass_fields__`` are made on first use (:func:`pybpf._dataclass.describe`)."""

    __slots__ = ("opcode", "dst", "src", "off", "imm")
    __match_args__ = ("opcode", "dst", "src", "off", "imm")

    opcode: int
    dst: int
    src: int
    off: int
    imm: int

    def __init__(self, opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0):
        setattr_ = object.__setattr__
        setattr_(self, "opcode", opcode)
        setattr_(self, "dst", dst)
        setattr_(self, "src", src)
        setattr_(self, "off", off)
        setattr_(self, "imm", imm)

    def replace(self, **changes: int) -> Instruction:
        """A copy with ``changes`` made (``dataclasses.replace(self, **changes)``)."""
        return Instruction(changes.pop("opcode", self.opcode), changes.pop("dst", self.dst),
                           changes.pop("src", self.src), changes.pop("off", self.off),
                           changes.pop("imm", self.imm), **changes)

    __replace__ = replace   # copy.replace (Python 3.13)

    def __repr__(self) -> str:
        return (f"{type(self).__qualname__}(opcode={self.opcode!r}, dst={self.dst!r}, src={self.src!r}, "
                f"off={self.off!r}, imm={self.imm!r})")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Instruction) and other.__class__ is self.__class__:
            return (self.opcode, self.dst, self.src, self.off, self.imm) == \
                (other.opcode, other.dst, other.src, other.off, other.imm)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.opcode, self.dst, self.src, self.off, self.imm))

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Instruction], tuple[int, int, int, int, int]]:
        return Instruction, (self.opcode, self.dst, self.src, self.off, self.imm)

    @property
    def cls(self) -> int:
        """The instruction class (``opcodes.LD`` ... ``opcodes.ALU64``)."""
        return self.opcode & 0x07

    @property
    def is_lddw(self) -> bool:
        """True for the two-slot 64-bit immediate load."""
        return self.opcode == o.LDDW

    @property
    def slots(self) -> int:
        """How many 8-byte slots the instruction occupies in the encoding."""
        return 2 if self.opcode == o.LDDW else 1

    @property
    def is_jump(self) -> bool:
        """True for JA/gotol and conditional jumps (not call or exit)."""
        if self.cls not in (o.JMP, o.JMP32):
            return False
        return o.op(self.opcode) not in (o.CALL, o.EXIT)

    @property
    def jump_offset(self) -> int:
        """Slots to skip when a jump is taken: ``off``, or ``imm`` for gotol (JMP32|JA)."""
        if self.cls == o.JMP32 and o.op(self.opcode) == o.JA:
            return self.imm
        return self.off

    def __str__(self) -> str:  # pragma: no cover - convenience for debugging
        from pybpf.isa.disassembler import format_instruction

        return format_instruction(self)


describe(Instruction, tuple(Field(default, name=name, type="int") for name, default in
                            (("opcode", MISSING), ("dst", 0), ("src", 0), ("off", 0), ("imm", 0))),
         eq=True, frozen=True)

_MOVSX_OFFSETS = {o.ALU64: (8, 16, 32), o.ALU: (8, 16)}
_ATOMIC_OPS = {
    o.ATOMIC_ADD, o.ATOMIC_OR, o.ATOMIC_AND, o.ATOMIC_XOR,
    o.ATOMIC_ADD | o.FETCH, o.ATOMIC_OR | o.FETCH, o.ATOMIC_AND | o.FETCH,
    o.ATOMIC_XOR | o.FETCH, o.XCHG, o.CMPXCHG,
}
_PSEUDO_MAX = o.PSEUDO_MAP_IDX_VALUE
# lddw pseudo sources whose second slot carries a value (map value offset, BTF object fd).
_PSEUDO_WITH_HIGH = {o.PSEUDO_IMM64, o.PSEUDO_MAP_VALUE, o.PSEUDO_MAP_IDX_VALUE, o.PSEUDO_BTF_ID}


def field_problem(ins: Instruction) -> str | None:
    """What field of ``ins`` does not fit its width in the encoding; None when all fit."""
    if not 0 <= ins.opcode <= 0xFF:
        return f"opcode {ins.opcode:#x} does not fit in 8 bits"
    if not 0 <= ins.dst <= 15 or not 0 <= ins.src <= 15:
        return "register fields must fit in 4 bits"
    if not -0x8000 <= ins.off <= 0x7FFF:
        return f"offset {ins.off} does not fit in a signed 16-bit field"
    if ins.is_lddw:
        if not 0 <= ins.imm <= 0xFFFF_FFFF_FFFF_FFFF:
            return f"lddw immediate {ins.imm} does not fit in 64 bits"
    elif not -0x8000_0000 <= ins.imm <= 0x7FFF_FFFF:
        return f"immediate {ins.imm} does not fit in a signed 32-bit field"
    return None


def _registers(ins: Instruction) -> str | None:
    if ins.dst > 10:
        return f"destination register r{ins.dst} does not exist (r0-r10)"
    if ins.src > 10 and not (ins.is_lddw or ins.opcode == o.JMP | o.CALL):
        return f"source register r{ins.src} does not exist (r0-r10)"
    return None


def _unused(ins: Instruction, *names: str) -> str | None:
    for name in names:
        if getattr(ins, name):
            return f"opcode {ins.opcode:#04x} does not use the {name} field, which must be 0"
    return None


def _alu(ins: Instruction) -> str | None:
    code, kind = o.op(ins.opcode), ins.cls
    reg = o.source(ins.opcode) == o.X
    if code == o.END:
        if kind == o.ALU64 and reg:
            return f"opcode {ins.opcode:#04x} is not defined (bswap has no source form)"
        if ins.imm not in (16, 32, 64):
            return f"byte swap width must be 16, 32 or 64, not {ins.imm}"
        return _unused(ins, "src", "off")
    if code == o.NEG:
        if reg:
            return f"opcode {ins.opcode:#04x} is not defined (neg has no register form)"
        return _unused(ins, "src", "off", "imm")
    if code not in o.ALU_OP_NAMES:
        return f"opcode {ins.opcode:#04x} has an unknown ALU operation"
    if code in (o.DIV, o.MOD):
        allowed: tuple[int, ...] = (0, 1)
    elif code == o.MOV and reg:
        allowed = (0, *_MOVSX_OFFSETS[kind])
    else:
        allowed = (0,)
    if ins.off not in allowed:
        return f"offset {ins.off} is not allowed for opcode {ins.opcode:#04x} (allowed: {allowed})"
    return _unused(ins, "imm") if reg else _unused(ins, "src")


def _jmp(ins: Instruction) -> str | None:
    code, kind = o.op(ins.opcode), ins.cls
    reg = o.source(ins.opcode) == o.X
    if code == o.JA:
        if reg:
            return f"opcode {ins.opcode:#04x} is not defined (ja has no register form)"
        if kind == o.JMP32:
            return _unused(ins, "dst", "src", "off")
        return _unused(ins, "dst", "src", "imm")
    if code == o.CALL:
        if kind == o.JMP32:
            return f"opcode {ins.opcode:#04x} is not defined (call is a JMP-class instruction)"
        if reg:  # callx: target address in dst (LLVM's encoding)
            return _unused(ins, "src", "off", "imm")
        if ins.src == o.CALL_KFUNC:
            return _unused(ins, "dst")
        if ins.src not in (o.CALL_HELPER, o.CALL_PSEUDO):
            return f"call source {ins.src} is not a helper (0), local (1) or kfunc (2) call"
        return _unused(ins, "dst", "off")
    if code == o.EXIT:
        if kind == o.JMP32 or reg:
            return f"opcode {ins.opcode:#04x} is not defined (exit is 0x95)"
        return _unused(ins, "dst", "src", "off", "imm")
    if code == o.JCOND:
        if kind == o.JMP32 or reg:
            return f"opcode {ins.opcode:#04x} is not defined (may_goto is 0xe5)"
        return _unused(ins, "dst", "src", "imm")
    if code not in o.JMP_OP_NAMES:
        return f"opcode {ins.opcode:#04x} has an unknown jump operation"
    return _unused(ins, "imm") if reg else _unused(ins, "src")


def _ld(ins: Instruction) -> str | None:
    mode, size = o.mode(ins.opcode), o.size(ins.opcode)
    if ins.opcode == o.LDDW:
        if ins.src > _PSEUDO_MAX:
            return f"lddw source {ins.src} is not a known pseudo source (0-{_PSEUDO_MAX})"
        if ins.src not in _PSEUDO_WITH_HIGH and ins.imm >> 32:
            return f"lddw with pseudo source {ins.src} must have 0 in the second slot's imm"
        return _unused(ins, "off")
    if mode in (o.ABS, o.IND) and size != o.DW:
        if mode == o.ABS:
            return _unused(ins, "dst", "src", "off")
        return _unused(ins, "dst", "off")
    return f"opcode {ins.opcode:#04x} is not a defined load"


def _mem(ins: Instruction) -> str | None:
    kind, mode, size = ins.cls, o.mode(ins.opcode), o.size(ins.opcode)
    if kind == o.LDX:
        if mode == o.MEM or (mode == o.MEMSX and size != o.DW):
            return _unused(ins, "imm")
    elif kind == o.ST:
        if mode == o.MEM:
            return _unused(ins, "src")
    elif mode == o.MEM:
        return _unused(ins, "imm")
    elif mode == o.ATOMIC:
        if ins.imm in (o.LOAD_ACQ, o.STORE_REL):
            return None
        if size not in (o.W, o.DW):
            return f"atomic {ins.imm:#x} needs a 32- or 64-bit size (opcode {ins.opcode:#04x})"
        if ins.imm not in _ATOMIC_OPS:
            return f"atomic operation {ins.imm:#x} is not defined"
        return None
    return f"opcode {ins.opcode:#04x} is not a defined load or store"


_BY_CLASS = {
    o.LD: _ld, o.LDX: _mem, o.ST: _mem, o.STX: _mem,
    o.ALU: _alu, o.ALU64: _alu, o.JMP: _jmp, o.JMP32: _jmp,
}


def problem(ins: Instruction) -> str | None:
    """What makes ``ins`` invalid, as a sentence; None when it is a valid instruction."""
    return field_problem(ins) or _registers(ins) or _BY_CLASS[ins.cls](ins)


def check(ins: Instruction, index: int | None = None) -> Instruction:
    """Return ``ins`` if valid, else raise :class:`InvalidInstruction` naming ``index``."""
    reason = problem(ins)
    if reason:
        raise InvalidInstruction(index, reason)
    return ins
