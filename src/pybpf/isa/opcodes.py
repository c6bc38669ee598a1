"""Numeric facts of the eBPF instruction set (RFC 9669 and include/uapi/linux/bpf.h).

Only names and numbers live here; what an opcode means is decided in
:mod:`pybpf.isa.instruction` (validity) and by the engines (behaviour).
"""

from __future__ import annotations

# Instruction classes (low 3 bits of the opcode).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)

# Load/store size (bits 3-4) and mode (bits 5-7).
W, H, B, DW = 0x00, 0x08, 0x10, 0x18
IMM, ABS, IND, MEM, MEMSX, ATOMIC = 0x00, 0x20, 0x40, 0x60, 0x80, 0xC0
SIZE_BYTES = {W: 4, H: 2, B: 1, DW: 8}
SIZE_NAMES = {W: "u32", H: "u16", B: "u8", DW: "u64"}

# Source operand flag (bit 3) for ALU and JMP classes.
K, X = 0x00, 0x08
# For END (byte swap) the same bit selects the target byte order.
TO_LE, TO_BE = 0x00, 0x08

# ALU operations (bits 4-7).
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70
NEG, MOD, XOR, MOV, ARSH, END = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0

# JMP operations (bits 4-7).
JA, JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70
CALL, EXIT, JLT, JLE, JSLT, JSLE = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0
#: ``may_goto`` (JMP | JCOND with src 0): jump once a hidden loop budget runs out
JCOND = 0xE0

# Atomic operations (the imm field of STX|ATOMIC).
FETCH = 0x01
ATOMIC_ADD, ATOMIC_OR, ATOMIC_AND, ATOMIC_XOR = ADD, OR, AND, XOR
XCHG = 0xE0 | FETCH
CMPXCHG = 0xF0 | FETCH
LOAD_ACQ = 0x100
STORE_REL = 0x110

# Source-register values of the 64-bit immediate load (lddw), bpf.h's BPF_PSEUDO_*.
PSEUDO_IMM64 = 0
PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4
PSEUDO_MAP_IDX = 5
PSEUDO_MAP_IDX_VALUE = 6

# Source-register values of CALL.
CALL_HELPER = 0
CALL_PSEUDO = 1  # bpf-to-bpf call, imm is the pc-relative target
CALL_KFUNC = 2

LDDW = LD | IMM | DW  # 0x18

# Registers.
R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)
NUM_REGS = 11
FRAME_POINTER = R10
STACK_SIZE = 512

# The ALU operation names used by the mnemonic (uBPF) syntax and by messages.
ALU_OP_NAMES = {
    ADD: "add", SUB: "sub", MUL: "mul", DIV: "div", OR: "or", AND: "and", LSH: "lsh",
    RSH: "rsh", NEG: "neg", MOD: "mod", XOR: "xor", MOV: "mov", ARSH: "arsh", END: "end",
}
JMP_OP_NAMES = {
    JA: "ja", JEQ: "jeq", JGT: "jgt", JGE: "jge", JSET: "jset", JNE: "jne", JSGT: "jsgt",
    JSGE: "jsge", CALL: "call", EXIT: "exit", JLT: "jlt", JLE: "jle", JSLT: "jslt",
    JSLE: "jsle",
}


def cls(opcode: int) -> int:
    """The instruction class of an opcode."""
    return opcode & 0x07


def op(opcode: int) -> int:
    """The operation (bits 4-7) of an ALU or JMP opcode."""
    return opcode & 0xF0


def source(opcode: int) -> int:
    """The source flag (bit 3) of an ALU or JMP opcode."""
    return opcode & 0x08


def size(opcode: int) -> int:
    """The size field of a load/store opcode."""
    return opcode & 0x18


def mode(opcode: int) -> int:
    """The mode field of a load/store opcode."""
    return opcode & 0xE0
