"""The smallest BTF that describes a generated program's functions: ``int fN(int, ...)``
for each, static, and a func_info record for where each starts — what the kernel needs
before it lets a program take a callback's address (``missing btf func_info``)."""

from __future__ import annotations

import struct

from pybpf.isa import Instruction
from pybpf.object.programs import BTFInfo
from pybpf.verifier.program import Layout

_INT, _FUNC, _FUNC_PROTO = 1, 12, 13
_PARAMS = 5


def function_btf(instructions: list[Instruction]) -> BTFInfo:
    layout = Layout(instructions)
    strings = bytearray(b"\0int\0a\0")      # a type name, a parameter name
    types = bytearray()
    types += struct.pack("<III", 1, _INT << 24, 4) + struct.pack("<I", 1 << 24 | 32)          # [1] int
    types += struct.pack("<III", 0, _FUNC_PROTO << 24 | _PARAMS, 1)                            # [2] proto
    types += b"".join(struct.pack("<II", 5, 1) for _ in range(_PARAMS))
    records = bytearray()
    for number, start in enumerate(layout.starts):
        name_off = len(strings)
        strings += f"f{number}".encode() + b"\0"
        types += struct.pack("<III", name_off, _FUNC << 24, 2)                                 # static
        records += struct.pack("<II", layout.slots[start], 3 + number)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return BTFInfo(header + bytes(types) + bytes(strings), bytes(records))
