"""Instructions → text in the C-like syntax the kernel's verifier log and llvm-objdump
print (``r0 = 11``, ``w1 += w2``, ``if r1 s> 0x5 goto +3``, ``*(u32 *)(r10 -4) = r1``).

The text is canonical: every valid instruction prints one way, and
:func:`pybpf.isa.assemble` reads it back to the same encoding. ALU immediates print in
decimal, jump immediates in hex, memory offsets with their sign attached (``r10 -8``),
64-bit immediates as unsigned hex with llvm's ``ll`` suffix.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybpf.isa import opcodes as o
from pybpf.isa.helpers import helper_name
from pybpf.isa.instruction import Instruction, problem
from pybpf.isa.syntax import SIZE_NAME

_ALU_SYMBOLS = {o.ADD: "+=", o.SUB: "-=", o.MUL: "*=", o.DIV: "/=", o.OR: "|=", o.AND: "&=",
                o.LSH: "<<=", o.RSH: ">>=", o.MOD: "%=", o.XOR: "^=", o.MOV: "=", o.ARSH: "s>>="}
_SIGNED_ALU = {o.DIV: "s/=", o.MOD: "s%="}
_JMP_SYMBOLS = {o.JEQ: "==", o.JNE: "!=", o.JGT: ">", o.JGE: ">=", o.JLT: "<", o.JLE: "<=",
                o.JSGT: "s>", o.JSGE: "s>=", o.JSLT: "s<", o.JSLE: "s<=", o.JSET: "&"}
_ATOMIC_NAMES = {o.ATOMIC_ADD: "add", o.ATOMIC_OR: "or", o.ATOMIC_AND: "and", o.ATOMIC_XOR: "xor"}
_ATOMIC_SYMBOLS = {o.ATOMIC_ADD: "+=", o.ATOMIC_OR: "|=", o.ATOMIC_AND: "&=", o.ATOMIC_XOR: "^="}


def _hex(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def _rel(value: int) -> str:
    return f"{value:+d}"


def _mem(reg: int, off: int) -> str:
    return f"(r{reg} {off:+d})"


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def format_instruction(ins: Instruction, target: str | None = None) -> str:
    """One instruction as text; ``target`` replaces a jump's or local call's offset
    (a label name). Invalid instructions print as ``.insn`` with their raw fields."""
    if problem(ins) is not None:
        return f".insn 0x{ins.opcode:02x}, {ins.dst}, {ins.src}, {ins.off}, {ins.imm}"
    kind = ins.cls
    if kind in (o.ALU, o.ALU64):
        return _alu(ins)
    if kind in (o.JMP, o.JMP32):
        return _jmp(ins, target)
    if kind == o.LD:
        return _ld(ins, target)
    if kind == o.LDX:
        sign = "s" if o.mode(ins.opcode) == o.MEMSX else "u"
        name = SIZE_NAME[o.size(ins.opcode)].replace("u", sign, 1)
        return f"r{ins.dst} = *({name} *){_mem(ins.src, ins.off)}"
    size = SIZE_NAME[o.size(ins.opcode)]
    if kind == o.ST:
        return f"*({size} *){_mem(ins.dst, ins.off)} = {ins.imm}"
    if o.mode(ins.opcode) == o.MEM:
        return f"*({size} *){_mem(ins.dst, ins.off)} = r{ins.src}"
    return _atomic(ins, size)


def _alu(ins: Instruction) -> str:
    reg = "w" if ins.cls == o.ALU else "r"
    dst, code = f"{reg}{ins.dst}", o.op(ins.opcode)
    by_register = o.source(ins.opcode) == o.X
    if code == o.NEG:
        return f"{dst} = -{dst}"
    if code == o.END:
        if ins.cls == o.ALU64:
            return f"r{ins.dst} = bswap{ins.imm} r{ins.dst}"
        order = "be" if by_register else "le"
        return f"r{ins.dst} = {order}{ins.imm} r{ins.dst}"
    if code == o.MOV and by_register and ins.off:
        return f"{dst} = (s{ins.off}){reg}{ins.src}"
    symbol = _SIGNED_ALU[code] if code in _SIGNED_ALU and ins.off == 1 else _ALU_SYMBOLS[code]
    source = f"{reg}{ins.src}" if by_register else str(ins.imm)
    return f"{dst} {symbol} {source}"


def _jmp(ins: Instruction, target: str | None) -> str:
    code = o.op(ins.opcode)
    if code == o.EXIT:
        return "exit"
    if code == o.CALL:
        if o.source(ins.opcode) == o.X:
            return f"callx r{ins.dst}"
        if ins.src == o.CALL_PSEUDO:
            return f"call {target}" if target else f"call pc{_rel(ins.imm)}"
        if ins.src == o.CALL_KFUNC:
            return f"call kfunc[id:{ins.imm}]" + (f"[btf:{ins.off}]" if ins.off else "")
        return f"call {helper_name(ins.imm) or ins.imm}"
    where = target or _rel(ins.jump_offset)
    if code == o.JA:
        return f"gotol {where}" if ins.cls == o.JMP32 else f"goto {where}"
    if code == o.JCOND:
        return f"may_goto {where}"
    reg = "w" if ins.cls == o.JMP32 else "r"
    source = f"{reg}{ins.src}" if o.source(ins.opcode) == o.X else _hex(ins.imm)
    return f"if {reg}{ins.dst} {_JMP_SYMBOLS[code]} {source} goto {where}"


def _ld(ins: Instruction, target: str | None) -> str:
    mode = o.mode(ins.opcode)
    if mode in (o.ABS, o.IND):
        size = SIZE_NAME[o.size(ins.opcode)]
        where = f"{ins.imm}" if mode == o.ABS else f"r{ins.src} {ins.imm:+d}"
        return f"r0 = *({size} *)skb[{where}]"
    low, high = ins.imm & 0xFFFF_FFFF, ins.imm >> 32
    dst = f"r{ins.dst}"
    if ins.src == o.PSEUDO_IMM64:
        return f"{dst} = 0x{ins.imm:x} ll"
    if ins.src == o.PSEUDO_MAP_FD:
        return f"{dst} = map[fd:{low}]"
    if ins.src == o.PSEUDO_MAP_VALUE:
        return f"{dst} = map[fd:{low}][0]+{high}"
    if ins.src == o.PSEUDO_MAP_IDX:
        return f"{dst} = map[idx:{low}]"
    if ins.src == o.PSEUDO_MAP_IDX_VALUE:
        return f"{dst} = map[idx:{low}][0]+{high}"
    if ins.src == o.PSEUDO_BTF_ID:
        return f"{dst} = btf_id[{low}]" + (f"[fd:{high}]" if high else "")
    return f"{dst} = func[{target or _rel(_signed32(low))}]"


def _atomic(ins: Instruction, size: str) -> str:
    where, src, op = _mem(ins.dst, ins.off), ins.src, ins.imm
    reg = "w" if o.size(ins.opcode) != o.DW else "r"
    if op == o.LOAD_ACQ:  # dst = *(src + off)
        return f"{reg}{ins.dst} = load_acquire(({size} *){_mem(src, ins.off)})"
    if op == o.STORE_REL:
        return f"store_release(({size} *){where}, {reg}{src})"
    if op in _ATOMIC_SYMBOLS:
        return f"lock *({size} *){where} {_ATOMIC_SYMBOLS[op]} {reg}{src}"
    if op & ~o.FETCH in _ATOMIC_NAMES:
        return f"{reg}{src} = atomic_fetch_{_ATOMIC_NAMES[op & ~o.FETCH]}(({size} *){where}, {reg}{src})"
    if op == o.XCHG:
        return f"{reg}{src} = atomic_xchg(({size} *){where}, {reg}{src})"
    return f"{reg}0 = atomic_cmpxchg(({size} *){where}, {reg}0, {reg}{src})"


def _landing(ins: Instruction, slot: int) -> int | None:
    """The slot a jump, local call or callback address at ``slot`` refers to, or None."""
    if problem(ins) is not None:
        return None
    if ins.is_jump:
        return slot + 1 + ins.jump_offset
    if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO:
        return slot + 1 + ins.imm
    if ins.is_lddw and ins.src == o.PSEUDO_FUNC:
        return slot + 1 + _signed32(ins.imm)
    return None


def disassemble(instructions: Sequence[Instruction], *, labels: bool = False, numbered: bool = False) -> str:
    """The program as text, one instruction per line. ``labels`` names jump targets
    (``L12:`` lines) instead of printing offsets; ``numbered`` prefixes each line with
    its slot number as the verifier log does (``  12: r0 = 1``)."""
    starts, slot = [], 0
    for ins in instructions:
        starts.append(slot)
        slot += ins.slots
    names: dict[int, str] = {}
    if labels:
        landings = {_landing(ins, at) for ins, at in zip(instructions, starts)}
        names = {t: f"L{t}" for t in sorted(t for t in landings if t in set(starts))}
    lines = []
    for ins, at in zip(instructions, starts):
        if at in names:
            lines.append(f"{names[at]}:")
        landing = _landing(ins, at) if names else None
        text = format_instruction(ins, names.get(landing) if landing is not None else None)
        lines.append(f"{at:4d}: {text}" if numbered else text)
    return "\n".join(lines) + ("\n" if lines else "")
