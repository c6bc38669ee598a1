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
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.isa import opcodes as opcodes
    from pybpf.isa.assembler import AsmError as AsmError
    from pybpf.isa.assembler import assemble as assemble
    from pybpf.isa.disassembler import disassemble as disassemble
    from pybpf.isa.disassembler import format_instruction as format_instruction
    from pybpf.isa.encoding import (
        SLOT_SIZE as SLOT_SIZE,
    )
    from pybpf.isa.encoding import (
        decode as decode,
    )
    from pybpf.isa.encoding import (
        encode as encode,
    )
    from pybpf.isa.encoding import (
        slot_offsets as slot_offsets,
    )
    from pybpf.isa.instruction import (
        Instruction as Instruction,
    )
    from pybpf.isa.instruction import (
        InvalidInstruction as InvalidInstruction,
    )
    from pybpf.isa.instruction import (
        check as check,
    )
    from pybpf.isa.instruction import (
        problem as problem,
    )

__all__ = sorted([*_SOURCES, "opcodes"])
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, ("opcodes",))
