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
__all__ = sorted([*_SOURCES, "opcodes"])
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, ("opcodes",))
