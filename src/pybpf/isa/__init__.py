"""The eBPF instruction set (RFC 9669 plus the kernel's v4 additions).

``Instruction`` values, ``decode``/``encode`` for raw bytes, and (in
:mod:`pybpf.isa.assembler` / :mod:`pybpf.isa.disassembler`) the text forms.

Names are imported on first use (:mod:`pybpf._lazy`): decoding and encoding do not load
the assembler's parsers, a third of the cost of ``import pybpf.isa`` otherwise.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "AsmError": "pybpf.isa.assembler",
    "assemble": "pybpf.isa.assembler",
    "disassemble": "pybpf.isa.disassembler",
    "format_instruction": "pybpf.isa.disassembler",
    "SLOT_SIZE": "pybpf.isa.encoding",
    "decode": "pybpf.isa.encoding",
    "encode": "pybpf.isa.encoding",
    "slot_offsets": "pybpf.isa.encoding",
    "Instruction": "pybpf.isa.instruction",
    "InvalidInstruction": "pybpf.isa.instruction",
    "check": "pybpf.isa.instruction",
    "problem": "pybpf.isa.instruction",
}
__all__ = sorted([*_SOURCES, "opcodes"])
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, ("opcodes",))
