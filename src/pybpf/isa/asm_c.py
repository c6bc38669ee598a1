"""Parsing one line of the C-like syntax (the kernel verifier log's and llvm-objdump's):
``r0 = 11``, ``w1 += w2``, ``if r1 s> 0x5 goto +3``, ``*(u32 *)(r10 -4) = r1``,
``lock *(u64 *)(r10 -8) += r1``, ``r1 = map[fd:5]``, ``call bpf_map_lookup_elem``.

Each form is a regular expression over the whole line; the first that matches builds
the instruction. Jump and call targets may be labels, returned for the assembler to
resolve once every label is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from pybpf.isa import opcodes as o
from pybpf.isa.helpers import helper_id
from pybpf.isa.instruction import Instruction
from pybpf.isa.syntax import SIZES, SyntaxProblem, imm32, imm64, number, offset16, register

#: (label, column, how it is used): "off" (jump), "imm" (gotol, local call), "func" (lddw)
LabelRef = tuple[str, int, str]
Parsed = tuple[Instruction, LabelRef | None]

_REG = r"%?[rw][0-9]+"
_NUM = r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|[0-9]+)"
_MEM = rf"\(\s*(?P<base>{_REG})\s*(?:(?P<sign>[+-])\s*(?P<off>0[xX][0-9a-fA-F]+|[0-9]+))?\s*\)"
_SIZE = r"\*\s*\(\s*(?P<size>[us](?:8|16|32|64))\s*\*\s*\)"
_PTR = r"\(\s*(?P<size>[us](?:8|16|32|64))\s*\*\s*\)"
_TARGET = r"(?P<target>(?:pc)?\s*[+-]\s*(?:0[xX][0-9a-fA-F]+|[0-9]+)|[A-Za-z_.$][\w.$]*)"

_ALU_OPS = {"+=": o.ADD, "-=": o.SUB, "*=": o.MUL, "/=": o.DIV, "|=": o.OR, "&=": o.AND, "<<=": o.LSH,
            ">>=": o.RSH, "%=": o.MOD, "^=": o.XOR, "=": o.MOV, "s>>=": o.ARSH, "s/=": o.DIV, "s%=": o.MOD}
_JMP_OPS = {"==": o.JEQ, "!=": o.JNE, ">": o.JGT, ">=": o.JGE, "<": o.JLT, "<=": o.JLE, "s>": o.JSGT,
            "s>=": o.JSGE, "s<": o.JSLT, "s<=": o.JSLE, "&": o.JSET}
_ATOMIC_OPS = {"+=": o.ATOMIC_ADD, "|=": o.ATOMIC_OR, "&=": o.ATOMIC_AND, "^=": o.ATOMIC_XOR}
_FETCH_OPS = {"add": o.ATOMIC_ADD, "or": o.ATOMIC_OR, "and": o.ATOMIC_AND, "xor": o.ATOMIC_XOR}


def _col(match: re.Match, group: str) -> int:
    return match.start(group) + 1


def _reg(match: re.Match, group: str, width: str | None = None) -> int:
    return register(match[group], _col(match, group), width)


def _width(text: str) -> str:
    return text.lstrip("%")[0]


def _mem_operand(match: re.Match) -> tuple[int, int]:
    base = _reg(match, "base", "r")
    if match["off"] is None:
        return base, 0
    return base, offset16(match["sign"] + match["off"], _col(match, "off"))


def _size(match: re.Match, signed_ok: bool = False) -> tuple[int, bool]:
    size, signed = SIZES[match["size"]] if match["size"] in SIZES else (None, False)
    if size is None or (signed and not signed_ok) or (signed and size == o.DW):
        raise SyntaxProblem(_col(match, "size"), f"size {match['size']} is not allowed here")
    return size, signed


def target(match: re.Match, kind: str) -> tuple[int, LabelRef | None]:
    """A jump/call target: a relative number (``+3``, ``pc-2``, ``+0x3``) or a label."""
    text, column = match["target"], _col(match, "target")
    relative = re.fullmatch(r"(?:pc)?\s*([+-])\s*(0[xX][0-9a-fA-F]+|[0-9]+)", text)
    if relative is None:
        return 0, (text, column, kind)
    value = relative[1] + relative[2]
    return (offset16(value, column) if kind == "off" else imm32(value, column)), None


def _alu(m: re.Match) -> Parsed:
    width = _width(m["dst"])
    dst = _reg(m, "dst", width)
    kind = o.ALU64 if width == "r" else o.ALU
    op_text = m["op"]
    code = _ALU_OPS[op_text]
    off = 1 if op_text in ("s/=", "s%=") else 0
    if re.fullmatch(_REG, m["src"]):
        return Instruction(kind | code | o.X, dst, _reg(m, "src", width), off, 0), None
    return Instruction(kind | code | o.K, dst, 0, off, imm32(m["src"], _col(m, "src"))), None


def _neg(m: re.Match) -> Parsed:
    width = _width(m["dst"])
    dst = _reg(m, "dst", width)
    if _reg(m, "src", width) != dst:
        raise SyntaxProblem(_col(m, "src"), "negation works in place: write rN = -rN")
    return Instruction((o.ALU64 if width == "r" else o.ALU) | o.NEG, dst), None


def _movsx(m: re.Match) -> Parsed:
    width = _width(m["dst"])
    bits = int(m["bits"]) if len(m["bits"]) <= 2 else 0
    if bits not in ((8, 16, 32) if width == "r" else (8, 16)):
        raise SyntaxProblem(_col(m, "bits"), f"sign extension from {bits} bits is not defined for {width} registers")
    return Instruction((o.ALU64 if width == "r" else o.ALU) | o.MOV | o.X, _reg(m, "dst", width),
                       _reg(m, "src", width), bits, 0), None


def _swap(m: re.Match) -> Parsed:
    dst = _reg(m, "dst", "r")
    if _reg(m, "src", "r") != dst:
        raise SyntaxProblem(_col(m, "src"), "byte swaps work in place: write rN = be16 rN")
    bits = int(m["bits"])
    if m["kind"] == "bswap":
        return Instruction(o.ALU64 | o.END | o.TO_LE, dst, 0, 0, bits), None
    return Instruction(o.ALU | o.END | (o.TO_BE if m["kind"] == "be" else o.TO_LE), dst, 0, 0, bits), None


def _load(m: re.Match) -> Parsed:
    size, signed = _size(m, signed_ok=True)
    base, off = _mem_operand(m)
    return Instruction(o.LDX | (o.MEMSX if signed else o.MEM) | size, _reg(m, "dst", "r"), base, off, 0), None


def _store(m: re.Match) -> Parsed:
    size, _ = _size(m)
    base, off = _mem_operand(m)
    if re.fullmatch(_REG, m["src"]):
        return Instruction(o.STX | o.MEM | size, base, _reg(m, "src"), off, 0), None
    return Instruction(o.ST | o.MEM | size, base, 0, off, imm32(m["src"], _col(m, "src"))), None


def _lock(m: re.Match) -> Parsed:
    size, _ = _size(m)
    base, off = _mem_operand(m)
    return Instruction(o.STX | o.ATOMIC | size, base, _reg(m, "src"), off, _ATOMIC_OPS[m["op"]]), None


def _fetch(m: re.Match) -> Parsed:
    size, _ = _size(m)
    base, off = _mem_operand(m)
    dst, src = _reg(m, "dst"), _reg(m, "src")
    name = m["name"]
    if name == "cmpxchg":
        if dst != 0 or _reg(m, "old") != 0:
            raise SyntaxProblem(_col(m, "dst"), "cmpxchg compares with r0 and returns into it: "
                                                "r0 = atomic_cmpxchg((u64 *)(rX +off), r0, rY)")
        return Instruction(o.STX | o.ATOMIC | size, base, src, off, o.CMPXCHG), None
    if dst != src:
        raise SyntaxProblem(_col(m, "src"), f"atomic {name} returns the old value into its source "
                                            "register: write rN = atomic_...(..., rN)")
    code = o.XCHG if name == "xchg" else _FETCH_OPS[name.removeprefix("fetch_")] | o.FETCH
    return Instruction(o.STX | o.ATOMIC | size, base, src, off, code), None


def _load_acquire(m: re.Match) -> Parsed:
    size, _ = _size(m)
    base, off = _mem_operand(m)
    return Instruction(o.STX | o.ATOMIC | size, _reg(m, "dst"), base, off, o.LOAD_ACQ), None


def _store_release(m: re.Match) -> Parsed:
    size, _ = _size(m)
    base, off = _mem_operand(m)
    return Instruction(o.STX | o.ATOMIC | size, base, _reg(m, "src"), off, o.STORE_REL), None


def _packet(m: re.Match) -> Parsed:
    """``r0 = *(u16 *)skb[K]`` (absolute) or ``skb[rX + K]`` (indirect)."""
    size, _ = _size(m)
    if size == o.DW:
        raise SyntaxProblem(_col(m, "size"), "packet loads are 8, 16 or 32 bits")
    if _reg(m, "dst", "r") != 0:
        raise SyntaxProblem(_col(m, "dst"), "packet loads always load into r0")
    if m["abs"] is not None:
        return Instruction(o.LD | o.ABS | size, 0, 0, 0, imm32(m["abs"], _col(m, "abs"))), None
    k = imm32(m["sign"] + m["k"], _col(m, "k")) if m["sign"] else 0
    return Instruction(o.LD | o.IND | size, 0, _reg(m, "index", "r"), 0, k), None


def _lddw(m: re.Match) -> Parsed:
    dst = _reg(m, "dst", "r")
    return Instruction(o.LDDW, dst, 0, 0, imm64(m["value"], _col(m, "value"))), None


def _u32(m: re.Match, group: str) -> int:
    value = number(m[group], _col(m, group))
    if not 0 <= value <= 0xFFFF_FFFF:
        raise SyntaxProblem(_col(m, group), f"{m[group]} does not fit in 32 bits")
    return value


def _pseudo(m: re.Match) -> Parsed:
    dst = _reg(m, "dst", "r")
    kind, handle = m["kind"], _u32(m, "handle")
    if m["value_off"] is not None:
        if m["index"] != "0":
            raise SyntaxProblem(_col(m, "index"), "map values are addressed as map[...][0]+OFFSET")
        high = _u32(m, "value_off")
        source = o.PSEUDO_MAP_VALUE if kind == "fd" else o.PSEUDO_MAP_IDX_VALUE
        return Instruction(o.LDDW, dst, source, 0, high << 32 | handle), None
    return Instruction(o.LDDW, dst, o.PSEUDO_MAP_FD if kind == "fd" else o.PSEUDO_MAP_IDX, 0, handle), None


def _btf_id(m: re.Match) -> Parsed:
    high = _u32(m, "fd") if m["fd"] else 0
    return Instruction(o.LDDW, _reg(m, "dst", "r"), o.PSEUDO_BTF_ID, 0, high << 32 | _u32(m, "id")), None


def _func(m: re.Match) -> Parsed:
    relative, label = target(m, "func")
    return Instruction(o.LDDW, _reg(m, "dst", "r"), o.PSEUDO_FUNC, 0, relative & 0xFFFF_FFFF), label


def _goto(m: re.Match) -> Parsed:
    if m["long"]:
        relative, label = target(m, "imm")
        return Instruction(o.JMP32 | o.JA, 0, 0, 0, relative), label
    relative, label = target(m, "off")
    return Instruction(o.JMP | o.JA, 0, 0, relative, 0), label


def _may_goto(m: re.Match) -> Parsed:
    relative, label = target(m, "off")
    return Instruction(o.JMP | o.JCOND, 0, 0, relative, 0), label


def _branch(m: re.Match) -> Parsed:
    width = _width(m["dst"])
    kind = o.JMP if width == "r" else o.JMP32
    code = _JMP_OPS[m["op"]]
    relative, label = target(m, "off")
    dst = _reg(m, "dst", width)
    if re.fullmatch(_REG, m["src"]):
        return Instruction(kind | code | o.X, dst, _reg(m, "src", width), relative, 0), label
    return Instruction(kind | code | o.K, dst, 0, relative, imm32(m["src"], _col(m, "src"))), label


def _call(m: re.Match) -> Parsed:
    text = m["callee"]
    column = _col(m, "callee")
    if re.fullmatch(_NUM, text):
        return Instruction(o.JMP | o.CALL, 0, o.CALL_HELPER, 0, imm32(text, column)), None
    if re.fullmatch(r"pc\s*[+-]\s*(?:0[xX][0-9a-fA-F]+|[0-9]+)", text):
        return Instruction(o.JMP | o.CALL, 0, o.CALL_PSEUDO, 0, imm32(text[2:], column)), None
    kfunc = re.fullmatch(r"kfunc\[id:(-?[0-9]+)\](?:\[btf:(-?[0-9]+)\])?", text)
    if kfunc:
        off = offset16(kfunc[2], column) if kfunc[2] else 0
        return Instruction(o.JMP | o.CALL, 0, o.CALL_KFUNC, off, imm32(kfunc[1], column)), None
    helper = helper_id(text) if helper_id(text) is not None else helper_id(f"bpf_{text}")
    if helper is not None:
        return Instruction(o.JMP | o.CALL, 0, o.CALL_HELPER, 0, helper), None
    if re.fullmatch(r"[A-Za-z_.$][\w.$]*", text):  # a local function, resolved as a label
        return Instruction(o.JMP | o.CALL, 0, o.CALL_PSEUDO, 0, 0), (text, column, "call")
    raise SyntaxProblem(column, f"cannot call {text!r}: not a helper name or id, pc+N, kfunc[id:N] or a label")


def _callx(m: re.Match) -> Parsed:
    return Instruction(o.JMP | o.CALL | o.X, _reg(m, "dst", "r"), 0, 0, 0), None


def _exit(m: re.Match) -> Parsed:
    return Instruction(o.JMP | o.EXIT), None


#: (a text every line of the form contains, or None; the form's expression; its builder),
#: in the order they are tried. The expressions are compiled on first use, and a form is
#: tried only on a line containing its text: compiling all of them is ~5 ms of ``pybpf asm``
#: and a two-instruction program needs two or three.
_FORMS: list[tuple[str | None, str, Callable[[re.Match], Parsed]]] = [
    ("exit", r"^exit", _exit),
    ("goto", rf"^goto(?P<long>l)?\s+{_TARGET}", _goto),
    ("may_goto", rf"^may_goto\s+{_TARGET}", _may_goto),
    ("goto", rf"^if\s+(?P<dst>{_REG})\s*(?P<op>s?[<>]=?|==|!=|&)\s*(?P<src>{_REG}|{_NUM})\s+goto\s+{_TARGET}", _branch),
    ("callx", r"^callx\s+(?P<dst>\S+)", _callx),
    ("call", r"^call\s+(?P<callee>.+?)", _call),
    ("lock", rf"^lock\s+{_SIZE}\s*{_MEM}\s*(?P<op>[+|&^]=)\s*(?P<src>{_REG})", _lock),
    ("atomic",
     rf"^(?P<dst>{_REG})\s*=\s*atomic(?:64)?_(?P<name>fetch_(?:add|or|and|xor)|xchg)\s*\(\s*{_PTR}\s*{_MEM}\s*,"
     rf"\s*(?P<src>{_REG})\s*\)", _fetch),
    ("atomic",
     rf"^(?P<dst>{_REG})\s*=\s*atomic(?:64)?_(?P<name>cmpxchg)\s*\(\s*{_PTR}\s*{_MEM}\s*,\s*(?P<old>{_REG})\s*,"
     rf"\s*(?P<src>{_REG})\s*\)", _fetch),
    ("load_acquire", rf"^(?P<dst>{_REG})\s*=\s*load_acquire\s*\(\s*{_PTR}\s*{_MEM}\s*\)", _load_acquire),
    ("store_release", rf"^store_release\s*\(\s*{_PTR}\s*{_MEM}\s*,\s*(?P<src>{_REG})\s*\)", _store_release),
    ("*", rf"^{_SIZE}\s*{_MEM}\s*=\s*(?P<src>{_REG}|{_NUM})", _store),
    ("skb",
     rf"^(?P<dst>{_REG})\s*=\s*{_SIZE}\s*skb\s*\[\s*(?:(?P<index>{_REG})\s*(?:(?P<sign>[+-])\s*"
     rf"(?P<k>0[xX][0-9a-fA-F]+|[0-9]+))?|(?P<abs>{_NUM}))\s*\]", _packet),
    ("*", rf"^(?P<dst>{_REG})\s*=\s*{_SIZE}\s*{_MEM}", _load),
    ("ll", rf"^(?P<dst>{_REG})\s*=\s*(?P<value>{_NUM})\s*ll", _lddw),
    ("map[",
     rf"^(?P<dst>{_REG})\s*=\s*map\[(?P<kind>fd|idx):(?P<handle>{_NUM})\]"
     rf"(?:\[(?P<index>[0-9]+)\]\s*\+\s*(?P<value_off>{_NUM}))?", _pseudo),
    ("btf_id[", rf"^(?P<dst>{_REG})\s*=\s*btf_id\[(?P<id>{_NUM})\](?:\[fd:(?P<fd>{_NUM})\])?", _btf_id),
    ("func[", rf"^(?P<dst>{_REG})\s*=\s*func\[{_TARGET}\]", _func),
    ("-", rf"^(?P<dst>{_REG})\s*=\s*-\s*(?P<src>{_REG})", _neg),
    ("(", rf"^(?P<dst>{_REG})\s*=\s*\(\s*s(?P<bits>[0-9]+)\s*\)\s*(?P<src>{_REG})", _movsx),
    (None, rf"^(?P<dst>{_REG})\s*=\s*(?P<kind>be|le|bswap)(?P<bits>16|32|64)\s+(?P<src>{_REG})", _swap),
    (None, rf"^(?P<dst>{_REG})\s*(?P<op>s>>=|s/=|s%=|<<=|>>=|[-+*/|&%^]=|=)\s*(?P<src>{_REG}|{_NUM})", _alu),
]


@cache
def _pattern(index: int) -> re.Pattern:
    return re.compile(_FORMS[index][1] + r"\s*$")


def parse_c(text: str) -> Parsed | None:
    """The instruction on a C-syntax line, or None when no form matches."""
    for index, (needs, _, handler) in enumerate(_FORMS):
        if needs is None or needs in text:
            match = _pattern(index).match(text)
            if match is not None:
                return handler(match)
    return None
