"""The eBPF instruction set (RFC 9669 plus the kernel's v4 additions).

``Instruction`` values, ``decode``/``encode`` for raw bytes, and (in
:mod:`pybpf.isa.assembler` / :mod:`pybpf.isa.disassembler`) the text forms.
"""

from pybpf.isa import opcodes
from pybpf.isa.assembler import AsmError, assemble
from pybpf.isa.disassembler import disassemble, format_instruction
from pybpf.isa.encoding import SLOT_SIZE, decode, encode, slot_offsets
from pybpf.isa.instruction import Instruction, InvalidInstruction, check, problem

__all__ = [
    "AsmError",
    "SLOT_SIZE",
    "Instruction",
    "InvalidInstruction",
    "assemble",
    "check",
    "decode",
    "disassemble",
    "encode",
    "format_instruction",
    "opcodes",
    "problem",
    "slot_offsets",
]
