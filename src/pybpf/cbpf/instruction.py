"""The classic BPF instruction (``struct sock_filter``) and its byte encoding.

A program is a list of :class:`Instruction`; jump targets are relative (``jt``/``jf``
for conditional jumps, ``k`` for ``ja``) and always forward in a valid kernel filter.
"""

from __future__ import annotations

import struct

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import NamedTuple
else:                   # the same class, without typing (pybpf._namedtuple)
    from pybpf._namedtuple import NamedTuple

_SOCK_FILTER = struct.Struct("<HBBI")
#: bytes per instruction in ``struct sock_filter``
SIZE = _SOCK_FILTER.size


class Instruction(NamedTuple):
    """One classic BPF instruction: opcode, jump-if-true, jump-if-false, constant."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0


class CbpfError(PybpfError):
    """A malformed classic BPF program or encoding."""


def encode(program: Iterable[Instruction]) -> bytes:
    """``struct sock_filter`` array bytes (native little-endian, as on x86-64/arm64)."""
    out = []
    for i, ins in enumerate(program):
        try:
            out.append(_SOCK_FILTER.pack(ins.code, ins.jt, ins.jf, ins.k & 0xFFFF_FFFF))
        except struct.error as exc:
            raise CbpfError(f"instruction {i}: field out of range: {ins}") from exc
    return b"".join(out)


def decode(data: bytes) -> list[Instruction]:
    """The instructions in a ``struct sock_filter`` byte array."""
    if len(data) % SIZE:
        raise CbpfError(f"{len(data)} bytes is not a whole number of 8-byte classic instructions")
    return [Instruction(*f) for f in _SOCK_FILTER.iter_unpack(data)]
