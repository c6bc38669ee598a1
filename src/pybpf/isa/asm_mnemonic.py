"""Parsing one line of the mnemonic syntax of uBPF and the bpf_conformance suite:
``mov %r0, 1``, ``add32 %r1, 2``, ``jeq %r1, 0x1, +2``, ``ldxw %r0, [%r1+4]``,
``stxdw [%r10-8], %r1``, ``lddw %r0, 0x1122334455667788``, ``be16 %r0``,
``lock fetch add [%r10-8], %r1``, ``call local func1``, ``exit``.

Registers may be written with or without ``%``. A ``32`` suffix selects the 32-bit
class (ALU or JMP32).
"""

from __future__ import annotations

import re

from pybpf.isa import opcodes as o
from pybpf.isa.asm_c import LabelRef, Parsed
from pybpf.isa.instruction import Instruction
from pybpf.isa.syntax import SUFFIX_SIZES, SyntaxProblem, imm32, imm64, is_number, offset16, register

_ALU = {"add": o.ADD, "sub": o.SUB, "mul": o.MUL, "div": o.DIV, "or": o.OR, "and": o.AND, "lsh": o.LSH,
        "rsh": o.RSH, "mod": o.MOD, "xor": o.XOR, "mov": o.MOV, "arsh": o.ARSH, "sdiv": o.DIV, "smod": o.MOD}
_JMP = {"jeq": o.JEQ, "jgt": o.JGT, "jge": o.JGE, "jlt": o.JLT, "jle": o.JLE, "jset": o.JSET, "jne": o.JNE,
        "jsgt": o.JSGT, "jsge": o.JSGE, "jslt": o.JSLT, "jsle": o.JSLE}
_MOVSX = {"movsx832": (o.ALU, 8), "movsx1632": (o.ALU, 16), "movsx864": (o.ALU64, 8),
          "movsx1664": (o.ALU64, 16), "movsx3264": (o.ALU64, 32)}
_LOCK = {"add": o.ATOMIC_ADD, "or": o.ATOMIC_OR, "and": o.ATOMIC_AND, "xor": o.ATOMIC_XOR}
_MEMORY = re.compile(r"^\[\s*(?P<base>%?\w+)\s*(?:(?P<sign>[+-])\s*(?P<off>0[xX][0-9a-fA-F]+|[0-9]+))?\s*\]$")


def is_mnemonic(word: str) -> bool:
    """True when ``word`` starts a mnemonic-syntax line."""
    base = word[:-2] if word.endswith("32") and not word.startswith("movsx") else word
    return (base in _ALU or base in _JMP or base in ("neg", "ja", "lddw", "exit", "call", "lock")
            or word in _MOVSX or re.fullmatch(r"(le|be|bswap|swap)(16|32|64)", word) is not None
            or re.fullmatch(r"(ldx|ldxs|stx|st)(b|h|w|dw)|ldabs[bhw]|ldind[bhw]", word) is not None)


def _operands(text: str, start: int) -> list[tuple[str, int]]:
    """Comma-separated operands (brackets kept whole) with their 1-based columns."""
    parts, depth, current, column = [], 0, "", start
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append((current, column))
            current, column = "", start + i + 1
        else:
            current += ch
    if current.strip() or parts:
        parts.append((current, column))
    out = []
    for part, col in parts:
        stripped = part.strip()
        out.append((stripped, col + len(part) - len(part.lstrip())))
    return out


def _expect(mnemonic: str, operands: list[tuple[str, int]], count: int, column: int) -> None:
    if len(operands) != count:
        raise SyntaxProblem(column, f"{mnemonic} takes {count} operand{'s' if count != 1 else ''}, "
                                    f"got {len(operands)}")


def _memory(operand: tuple[str, int]) -> tuple[int, int]:
    text, column = operand
    match = _MEMORY.match(text)
    if match is None:
        raise SyntaxProblem(column, f"expected a memory operand like [%r1+4], got {text!r}")
    base = register(match["base"], column + match.start("base"))
    off = offset16(match["sign"] + match["off"], column + match.start("off")) if match["off"] else 0
    return base, off


def _target(operand: tuple[str, int], kind: str) -> tuple[int, LabelRef | None]:
    text, column = operand
    if re.fullmatch(r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|[0-9]+)", text):
        return (offset16(text, column) if kind == "off" else imm32(text, column)), None
    if re.fullmatch(r"[A-Za-z_.$][\w.$]*", text):
        return 0, (text, column, kind)
    raise SyntaxProblem(column, f"expected a jump target (+N, -N or a label), got {text!r}")


def parse_mnemonic(text: str) -> Parsed:
    """The instruction on a mnemonic-syntax line (``text`` without comments)."""
    match = re.match(r"\s*(\S+)", text)
    assert match is not None
    word, column = match[1].lower(), match.start(1) + 1
    rest_at = match.end(1)
    if word == "lock":
        return _lock(text[rest_at:], rest_at + 1, column)
    operands = _operands(text[rest_at:], rest_at + 1)
    wide = not (word.endswith("32") and not word.startswith("movsx"))
    base = word if wide else word[:-2]
    alu, jmp = (o.ALU64, o.JMP) if wide else (o.ALU, o.JMP32)
    if word == "exit":
        _expect(word, operands, 0, column)
        return Instruction(o.JMP | o.EXIT), None
    if base in _ALU:
        _expect(word, operands, 2, column)
        dst = register(operands[0][0], operands[0][1])
        off = 1 if base in ("sdiv", "smod") else 0
        src_text, src_col = operands[1]
        if is_number(src_text):
            return Instruction(alu | _ALU[base] | o.K, dst, 0, off, imm32(src_text, src_col)), None
        return Instruction(alu | _ALU[base] | o.X, dst, register(src_text, src_col), off, 0), None
    if base == "neg":
        _expect(word, operands, 1, column)
        return Instruction(alu | o.NEG, register(*operands[0])), None
    if word in _MOVSX:
        _expect(word, operands, 2, column)
        kind, bits = _MOVSX[word]
        return Instruction(kind | o.MOV | o.X, register(*operands[0]), register(*operands[1]), bits, 0), None
    swap = re.fullmatch(r"(le|be|bswap|swap)(16|32|64)", word)
    if swap:
        _expect(word, operands, 1, column)
        dst, bits = register(*operands[0]), int(swap[2])
        if swap[1] in ("bswap", "swap"):
            return Instruction(o.ALU64 | o.END | o.TO_LE, dst, 0, 0, bits), None
        return Instruction(o.ALU | o.END | (o.TO_BE if swap[1] == "be" else o.TO_LE), dst, 0, 0, bits), None
    memory = re.fullmatch(r"(ldxs|ldx|stx|st)(b|h|w|dw)", word)
    if memory:
        _expect(word, operands, 2, column)
        kind, size = memory[1], SUFFIX_SIZES[memory[2]]
        if kind in ("ldx", "ldxs"):
            if kind == "ldxs" and size == o.DW:
                raise SyntaxProblem(column, "sign-extending loads are 8, 16 or 32 bits")
            base_reg, off = _memory(operands[1])
            mode = o.MEMSX if kind == "ldxs" else o.MEM
            return Instruction(o.LDX | mode | size, register(*operands[0]), base_reg, off, 0), None
        base_reg, off = _memory(operands[0])
        if kind == "stx":
            return Instruction(o.STX | o.MEM | size, base_reg, register(*operands[1]), off, 0), None
        return Instruction(o.ST | o.MEM | size, base_reg, 0, off, imm32(*operands[1])), None
    packet = re.fullmatch(r"ld(abs|ind)([bhw])", word)
    if packet:
        size = SUFFIX_SIZES[packet[2]]
        if packet[1] == "abs":
            _expect(word, operands, 1, column)
            return Instruction(o.LD | o.ABS | size, 0, 0, 0, imm32(*operands[0])), None
        _expect(word, operands, 2, column)
        return Instruction(o.LD | o.IND | size, 0, register(*operands[0]), 0, imm32(*operands[1])), None
    if word == "lddw":
        _expect(word, operands, 2, column)
        return Instruction(o.LDDW, register(*operands[0]), 0, 0, imm64(*operands[1])), None
    if base == "ja":
        _expect(word, operands, 1, column)
        if wide:
            relative, label = _target(operands[0], "off")
            return Instruction(o.JMP | o.JA, 0, 0, relative, 0), label
        relative, label = _target(operands[0], "imm")
        return Instruction(o.JMP32 | o.JA, 0, 0, 0, relative), label
    if base in _JMP:
        _expect(word, operands, 3, column)
        dst = register(*operands[0])
        relative, label = _target(operands[2], "off")
        src_text, src_col = operands[1]
        if is_number(src_text):
            return Instruction(jmp | _JMP[base] | o.K, dst, 0, relative, imm32(src_text, src_col)), label
        return Instruction(jmp | _JMP[base] | o.X, dst, register(src_text, src_col), relative, 0), label
    if word == "call":
        return _call(text[rest_at:], rest_at + 1, column)
    raise SyntaxProblem(column, f"unknown mnemonic {match[1]!r}")


def _call(rest: str, start: int, column: int) -> Parsed:
    words = rest.split()
    if not words:
        raise SyntaxProblem(column, "call takes a helper id, 'local LABEL' or a register")
    first_col = start + rest.index(words[0])
    if words[0] == "local":
        if len(words) != 2:
            raise SyntaxProblem(first_col, "expected: call local LABEL")
        return Instruction(o.JMP | o.CALL, 0, o.CALL_PSEUDO, 0, 0), (words[1], start + rest.index(words[1], 5), "call")
    if len(words) != 1:
        raise SyntaxProblem(first_col, "call takes one operand")
    if is_number(words[0]):
        return Instruction(o.JMP | o.CALL, 0, o.CALL_HELPER, 0, imm32(words[0], first_col)), None
    return Instruction(o.JMP | o.CALL | o.X, register(words[0], first_col, "r"), 0, 0, 0), None


def _lock(rest: str, start: int, column: int) -> Parsed:
    match = re.match(r"\s*(?P<fetch>fetch\s+)?(?P<op>\S+)(?P<rest>.*)$", rest)
    if match is None:
        raise SyntaxProblem(column, "lock takes an operation and 2 operands: lock add [%r10-8], %r1")
    fetch, op_word = match["fetch"] is not None, match["op"].lower()
    op_at = start + match.start("op")
    operands = _operands(match["rest"], start + match.start("rest"))
    if len(operands) != 2:
        raise SyntaxProblem(column, f"lock {op_word} takes 2 operands ([%rX+off], %rY), got {len(operands)}")
    wide = not op_word.endswith("32")
    name = op_word if wide else op_word[:-2]
    base_reg, off = _memory(operands[0])
    src = register(*operands[1])
    if name in _LOCK:
        code = _LOCK[name] | (o.FETCH if fetch else 0)
    elif name in ("xchg", "cmpxchg") and not fetch:
        code = o.XCHG if name == "xchg" else o.CMPXCHG
    else:
        raise SyntaxProblem(op_at, f"unknown atomic operation {op_word!r}")
    return Instruction(o.STX | o.ATOMIC | (o.DW if wide else o.W), base_reg, src, off, code), None
