"""The classic BPF machine, with libpcap's ``bpf_filter()`` semantics: accumulator A,
index X, scratch memory M[0..15], all starting at 0; loads past the captured bytes reject
the packet (return 0); division by zero returns 0; the result is RET's 32-bit value.

Linux's ancillary loads (``ld [SKF_AD_OFF + n]``) read packet metadata given as keyword
arguments (``vlan_tci=5``, ``protocol=0x0800``...); where none is given they read 0, as
on a packet without that metadata.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Sequence

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction

M32 = 0xFFFF_FFFF
_FORMATS = {c.W: struct.Struct(">I"), c.H: struct.Struct(">H"), c.B: struct.Struct(">B")}
#: keyword argument names for the ancillary loads (SKF_AD_OFF + offset)
AUX_NAMES = {0: "protocol", 4: "pkttype", 8: "ifindex", 12: "nla", 16: "nlan", 20: "mark", 24: "queue",
             28: "hatype", 32: "rxhash", 36: "cpu", 44: "vlan_tci", 48: "vlan_avail", 52: "pay_offset",
             60: "vlan_tpid"}


def _ancillary(offset: int, a: int, x: int, aux: dict[str, int]) -> int:
    if offset == 40:          # SKF_AD_ALU_XOR_X
        return a ^ x
    if offset == 56:          # SKF_AD_RANDOM
        return aux.get("random", random.getrandbits(32))
    return aux.get(AUX_NAMES.get(offset, ""), 0) & M32


def run(program: Sequence[Instruction], packet: bytes, wirelen: int | None = None, **aux: int) -> int:
    """The filter's return value for ``packet`` (0 rejects it)."""
    a = x = 0
    memory = [0] * c.MEMWORDS
    length = len(packet)
    wire = length if wirelen is None else wirelen
    pc = 0
    count = len(program)
    while pc < count:
        code, jt, jf, k = program[pc]
        pc += 1
        kind = code & 0x07
        if kind == c.RET:
            source = code & 0x18
            return (k if source == c.K else a if source == c.A else x) & M32
        if kind == c.LD:
            mode, size = code & 0xE0, code & 0x18
            if mode in (c.ABS, c.IND):
                fmt = _FORMATS.get(size)
                if fmt is None:
                    return 0
                offset = k if mode == c.ABS else (x + k)
                signed = offset - (1 << 32) if offset >> 31 and mode == c.ABS else offset
                if mode == c.ABS and c.SKF_AD_OFF <= signed < c.SKF_AD_OFF + c.SKF_AD_MAX:
                    a = _ancillary(signed - c.SKF_AD_OFF, a, x, aux)
                    continue
                if offset > M32 or offset + fmt.size > length:
                    return 0
                a = fmt.unpack_from(packet, offset)[0]
            elif mode == c.IMM:
                a = k
            elif mode == c.LEN:
                a = wire & M32
            elif mode == c.MEM:
                if k >= c.MEMWORDS:
                    return 0
                a = memory[k]
            else:
                return 0
        elif kind == c.LDX:
            mode = code & 0xE0
            if mode == c.IMM:
                x = k
            elif mode == c.LEN:
                x = wire & M32
            elif mode == c.MEM:
                if k >= c.MEMWORDS:
                    return 0
                x = memory[k]
            elif mode == c.MSH:
                if k >= length:
                    return 0
                x = (packet[k] & 0xF) << 2
            else:
                return 0
        elif kind in (c.ST, c.STX):
            if k >= c.MEMWORDS:
                return 0
            memory[k] = a if kind == c.ST else x
        elif kind == c.ALU:
            operation = code & 0xF0
            operand = x if code & 0x08 else k
            if operation == c.ADD:
                a = (a + operand) & M32
            elif operation == c.SUB:
                a = (a - operand) & M32
            elif operation == c.MUL:
                a = (a * operand) & M32
            elif operation in (c.DIV, c.MOD):
                if operand == 0:
                    return 0
                a = a // operand if operation == c.DIV else a % operand
            elif operation == c.AND:
                a &= operand
            elif operation == c.OR:
                a |= operand
            elif operation == c.XOR:
                a ^= operand
            elif operation == c.LSH:
                a = (a << operand) & M32 if operand < 32 else 0
            elif operation == c.RSH:
                a = a >> operand if operand < 32 else 0
            elif operation == c.NEG:
                a = (-a) & M32
            else:
                return 0
        elif kind == c.JMP:
            operation = code & 0xF0
            if operation == c.JA:  # 32-bit wrap-around: libpcap's protochain code jumps backwards
                pc = (pc + k) & M32
                continue
            operand = x if code & 0x08 else k
            if operation == c.JEQ:
                taken = a == operand
            elif operation == c.JGT:
                taken = a > operand
            elif operation == c.JGE:
                taken = a >= operand
            elif operation == c.JSET:
                taken = bool(a & operand)
            else:
                return 0
            pc += jt if taken else jf
        else:  # MISC
            if code & 0xF8 == c.TXA:
                a = x
            else:
                x = a
    return 0


class Filter:
    """A program applied to many packets."""

    def __init__(self, program: Sequence[Instruction]):
        self.program = list(program)

    def run(self, packet: bytes, wirelen: int | None = None, **aux: int) -> int:
        """One packet's result."""
        return run(self.program, packet, wirelen, **aux)

    def run_many(self, packets: Iterable[tuple[bytes, int]]) -> list[int]:
        """Results for (data, wire length) pairs."""
        return [run(self.program, data, wire) for data, wire in packets]
