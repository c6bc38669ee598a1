"""Classic BPF: the 1993 packet filter machine, as Linux and libpcap run it."""

from pybpf.cbpf import opcodes
from pybpf.cbpf.instruction import SIZE, CbpfError, Instruction, decode, encode

__all__ = ["SIZE", "CbpfError", "Instruction", "decode", "encode", "opcodes"]
