"""Classic BPF: the 1993 packet filter machine, as Linux and libpcap run it."""

from pybpf.cbpf import opcodes
from pybpf.cbpf.dump import dump, parse_dump
from pybpf.cbpf.instruction import SIZE, CbpfError, Instruction, decode, encode
from pybpf.cbpf.interpreter import Filter, run
from pybpf.cbpf.translate import to_ebpf, validate

__all__ = ["SIZE", "CbpfError", "Filter", "Instruction", "decode", "dump", "encode", "opcodes", "parse_dump", "run",
           "to_ebpf", "validate"]
