"""Classic BPF: the 1993 packet filter machine, as Linux and libpcap run it.

Names are imported on first use (:mod:`pybpf._lazy`): the pcap-filter compiler needs
the instructions, not the assembler, the dump parsers or the eBPF translation.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "CbpfAsmError": "pybpf.cbpf.asm",
    "assemble": "pybpf.cbpf.asm",
    "disassemble": "pybpf.cbpf.asm",
    "format_bytecode": "pybpf.cbpf.asm",
    "format_c": "pybpf.cbpf.asm",
    "parse_bytecode": "pybpf.cbpf.asm",
    "dump": "pybpf.cbpf.dump",
    "parse_dump": "pybpf.cbpf.dump",
    "SIZE": "pybpf.cbpf.instruction",
    "CbpfError": "pybpf.cbpf.instruction",
    "Instruction": "pybpf.cbpf.instruction",
    "decode": "pybpf.cbpf.instruction",
    "encode": "pybpf.cbpf.instruction",
    "Filter": "pybpf.cbpf.interpreter",
    "run": "pybpf.cbpf.interpreter",
    "to_ebpf": "pybpf.cbpf.translate",
    "validate": "pybpf.cbpf.translate",
}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.cbpf import opcodes as opcodes
    from pybpf.cbpf.asm import (
        CbpfAsmError as CbpfAsmError,
    )
    from pybpf.cbpf.asm import (
        assemble as assemble,
    )
    from pybpf.cbpf.asm import (
        disassemble as disassemble,
    )
    from pybpf.cbpf.asm import (
        format_bytecode as format_bytecode,
    )
    from pybpf.cbpf.asm import (
        format_c as format_c,
    )
    from pybpf.cbpf.asm import (
        parse_bytecode as parse_bytecode,
    )
    from pybpf.cbpf.dump import dump as dump
    from pybpf.cbpf.dump import parse_dump as parse_dump
    from pybpf.cbpf.instruction import (
        SIZE as SIZE,
    )
    from pybpf.cbpf.instruction import (
        CbpfError as CbpfError,
    )
    from pybpf.cbpf.instruction import (
        Instruction as Instruction,
    )
    from pybpf.cbpf.instruction import (
        decode as decode,
    )
    from pybpf.cbpf.instruction import (
        encode as encode,
    )
    from pybpf.cbpf.interpreter import Filter as Filter
    from pybpf.cbpf.interpreter import run as run
    from pybpf.cbpf.translate import to_ebpf as to_ebpf
    from pybpf.cbpf.translate import validate as validate

__all__ = sorted([*_SOURCES, "opcodes"])
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, ("opcodes",))
