"""Numeric facts of classic BPF (McCanne & Jacobson 1993; include/uapi/linux/filter.h).

Names and numbers only; the interpreter, printers and compilers give them meaning.
"""

from __future__ import annotations

# Classes (low 3 bits).
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)

# Load sizes and modes.
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
SIZE_BYTES = {W: 4, H: 2, B: 1}

# ALU operations (the same numbers as eBPF's).
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70
NEG, MOD, XOR = 0x80, 0x90, 0xA0

# Jumps.
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40

# Operand source for ALU/JMP, and the RET value source.
K, X, A = 0x00, 0x08, 0x10

# MISC operations.
TAX, TXA = 0x00, 0x80

#: number of scratch memory words M[0..15]
MEMWORDS = 16
#: the kernel's limit on classic program length (BPF_MAXINSNS)
MAXINSNS = 4096

# Linux's ancillary-data loads: ld/ldh/ldb at SKF_AD_OFF + n read packet metadata.
SKF_AD_OFF = -0x1000
SKF_NET_OFF = -0x100000
SKF_LL_OFF = -0x200000
SKF_AD = {
    "proto": 0, "type": 4, "ifidx": 8, "nla": 12, "nlan": 16, "mark": 20, "queue": 24,
    "hatype": 28, "rxhash": 32, "cpu": 36, "xor_x": 40, "vlan_tci": 44, "vlan_avail": 48,
    "pay_offset": 52, "rand": 56, "vlan_tpid": 60,
}
SKF_AD_MAX = 64


def cls(code: int) -> int:
    """The class of an opcode."""
    return code & 0x07


def size(code: int) -> int:
    """The load size of an opcode."""
    return code & 0x18


def mode(code: int) -> int:
    """The load mode of an opcode."""
    return code & 0xE0


def op(code: int) -> int:
    """The ALU or JMP operation of an opcode."""
    return code & 0xF0


def src(code: int) -> int:
    """The operand source (K or X) of an ALU/JMP opcode."""
    return code & 0x08


def rval(code: int) -> int:
    """The return value source (K, X or A) of a RET opcode."""
    return code & 0x18
