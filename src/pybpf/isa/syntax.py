"""Pieces both assembly syntaxes share: registers, numbers with their range rules,
memory-size names, and the error that points at a column.

Range rules follow the conformance suite's negative cases: a 32-bit immediate written
in decimal must fit a signed 32-bit integer, in hex it may use all 32 bits (``0xffffffff``
is -1); offsets are signed 16-bit; ``lddw`` takes any 64-bit value, signed or not.
"""

from __future__ import annotations

import re

from pybpf.isa import opcodes as o

NUMBER = r"[+-]?\s*(?:0[xX][0-9a-fA-F]+|[0-9]+)"
_NUMBER_RE = re.compile(rf"^{NUMBER}$")
REGISTER = re.compile(r"^%?([rw])([0-9]+)$")

#: C-like size names → (size field, sign-extending?)
SIZES = {"u8": (o.B, False), "u16": (o.H, False), "u32": (o.W, False), "u64": (o.DW, False),
         "s8": (o.B, True), "s16": (o.H, True), "s32": (o.W, True)}
SIZE_NAME = {o.B: "u8", o.H: "u16", o.W: "u32", o.DW: "u64"}
#: mnemonic size suffixes
SUFFIX_SIZES = {"b": o.B, "h": o.H, "w": o.W, "dw": o.DW}


class SyntaxProblem(Exception):
    """A problem at ``column`` (1-based) of the line being parsed; the assembler adds
    the line number and text."""

    def __init__(self, column: int, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


def register(text: str, column: int, width: str | None = None) -> int:
    """The number of register ``text`` (``r3``, ``w3``, ``%r3``); with ``width`` ``"r"``
    or ``"w"`` the register must be written that way."""
    match = REGISTER.match(text.strip())
    if match is None:
        raise SyntaxProblem(column, f"expected a register, got {text.strip()!r}")
    number = int(match[2]) if len(match[2]) <= 2 else 99
    if number > 10:
        raise SyntaxProblem(column, f"unknown register {text.strip()!r} (registers are r0-r10)")
    if width is not None and match[1] != width:
        raise SyntaxProblem(column, f"expected a {'64' if width == 'r' else '32'}-bit register "
                                    f"({width}{number}), got {text.strip()!r}")
    return number


#: digits of the longest 64-bit literal (20 decimal; any literal longer is out of range)
_MAX_DIGITS = 20


def is_number(text: str) -> bool:
    """True when ``text`` is a decimal or hex integer literal."""
    return bool(_NUMBER_RE.match(text.strip()))


def number(text: str, column: int) -> int:
    """The value of a decimal or hex literal (with optional sign)."""
    cleaned = text.replace(" ", "").replace("\t", "")
    if not _NUMBER_RE.match(cleaned):
        raise SyntaxProblem(column, f"expected a number, got {text.strip()!r}")
    body = cleaned.lstrip("+-")
    if len(body.lstrip("0xX")) > _MAX_DIGITS:     # Python refuses to convert over 4,300 digits
        raise SyntaxProblem(column, f"number {text.strip()[:24]}... has {len(body)} digits: more than 64 bits hold")
    value = int(body, 16) if body[:2].lower() == "0x" else int(body, 10)  # "05" is decimal
    return -value if cleaned.startswith("-") else value


def imm32(text: str, column: int) -> int:
    """A 32-bit immediate: decimal within the signed range, hex within 32 bits."""
    value = number(text, column)
    if "x" in text.lower():
        if not -(1 << 31) <= value <= 0xFFFF_FFFF:
            raise SyntaxProblem(column, f"immediate {text.strip()} does not fit in 32 bits")
        return value - (1 << 32) if value >= 1 << 31 else value
    if not -(1 << 31) <= value < 1 << 31:
        raise SyntaxProblem(column, f"immediate {text.strip()} does not fit a signed 32-bit integer "
                                    "(write it in hex to give the bit pattern)")
    return value


def imm64(text: str, column: int) -> int:
    """A 64-bit immediate (lddw), signed or unsigned; stored unsigned."""
    value = number(text, column)
    if not -(1 << 63) <= value < 1 << 64:
        raise SyntaxProblem(column, f"immediate {text.strip()} does not fit in 64 bits")
    return value & 0xFFFF_FFFF_FFFF_FFFF


def offset16(text: str, column: int) -> int:
    """A signed 16-bit offset."""
    value = number(text, column)
    if not -(1 << 15) <= value < 1 << 15:
        raise SyntaxProblem(column, f"offset {text.strip()} does not fit a signed 16-bit integer")
    return value
