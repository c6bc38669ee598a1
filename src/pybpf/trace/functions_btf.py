"""The BTF a trace program needs once it has callbacks (for loops, len()): the kernel
refuses a program with bpf-to-bpf functions unless each function start has a func_info
record naming a BTF FUNC ("missing btf func_info"). The functions are found from the code
itself (the targets of ``lddw rX, PSEUDO_FUNC``) and described as static ``long f(long...)``."""

from __future__ import annotations

import struct

from pybpf.isa import opcodes as o
from pybpf.isa.instruction import Instruction
from pybpf.object.programs import BTFInfo

_MAGIC, _VERSION, _HEADER = 0xEB9F, 1, 24
_INT, _FUNC, _FUNC_PROTO = 1, 12, 13
_SIGNED = 1
#: parameters of the program (ctx) and of the callbacks (bpf_for_each_map_elem's four,
#: bpf_loop's two: four covers both, the verifier does not compare them for static functions)
_PARAMS = {"main": ("ctx",), "callback": ("a", "b", "c", "d")}


def function_starts(instructions: list[Instruction]) -> list[int]:
    """Slots where the program's functions start: 0, then every PSEUDO_FUNC target."""
    starts, slot = {0}, 0
    for ins in instructions:
        if ins.opcode == o.LDDW and ins.src == o.PSEUDO_FUNC:
            starts.add(slot + ins.imm + 1)
        slot += ins.slots
    return sorted(starts)


def functions_btf(instructions: list[Instruction]) -> BTFInfo | None:
    """BTF and func_info for a program with callbacks; None when it has none."""
    starts = function_starts(instructions)
    if len(starts) == 1:
        return None
    strings = bytearray(b"\0")

    def name(text: str) -> int:
        at = len(strings)
        strings.extend(text.encode() + b"\0")
        return at

    types = bytearray()
    types += struct.pack("<III", name("long"), _INT << 24, 8) + struct.pack("<I", (_SIGNED << 24) | 64)
    ids = {}
    next_id = 2
    for kind, params in _PARAMS.items():
        types += struct.pack("<III", 0, (_FUNC_PROTO << 24) | len(params), 1)
        for param in params:
            types += struct.pack("<II", name(param), 1)
        types += struct.pack("<III", name(f"trace_{kind}"), _FUNC << 24, next_id)
        ids[kind] = next_id + 1
        next_id += 2
    header = struct.pack("<HBBIIIII", _MAGIC, _VERSION, 0, _HEADER, 0, len(types), len(types), len(strings))
    records = b"".join(struct.pack("<II", start, ids["main" if start == 0 else "callback"]) for start in starts)
    return BTFInfo(header + bytes(types) + bytes(strings), func_info=records)
