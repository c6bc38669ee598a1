"""Classic BPF: the 1993 packet filter machine, as Linux and libpcap run it."""

from pybpf.cbpf import opcodes
from pybpf.cbpf.asm import AsmError, assemble, disassemble, format_bytecode, format_c, parse_bytecode
from pybpf.cbpf.dump import dump, parse_dump
from pybpf.cbpf.instruction import SIZE, CbpfError, Instruction, decode, encode
from pybpf.cbpf.interpreter import Filter, run
from pybpf.cbpf.translate import to_ebpf, validate

__all__ = ["SIZE", "AsmError", "CbpfError", "Filter", "Instruction", "assemble", "decode", "disassemble", "dump",
           "encode", "format_bytecode", "format_c", "opcodes", "parse_bytecode", "parse_dump", "run", "to_ebpf",
           "validate"]
