"""Value types of the trace language, as the code generator lays them out: integers are
kept in 64 bits (sign-extended), strings as NUL-padded byte arrays, tuples as bpftrace lays
them out: a C struct of their items, each at its natural alignment and size (an ``int8``
item takes one byte), so ``sizeof`` of a tuple is bpftrace's. Userspace decodes map keys,
map values and printf arguments with the same layouts (:func:`decode`)."""

from __future__ import annotations

import struct

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

STRLEN = 64  #: bytes of a str() value, as bpftrace's default BPFTRACE_STRLEN


@dataclass(frozen=True)
class T:
    kind: str                 #: int, str, tuple, none, ksym, usym, username, args, ptr, record, array
    size: int = 8
    signed: bool = False
    items: tuple[T, ...] = ()
    btf: int = 0              #: ptr: the pointee's BTF id; record/array: the type's own id
    name: str = ""            #: the C name of a BTF type, for messages
    align: int = 0            #: array: its element's C alignment (0: 8)

    @property
    def slot(self) -> int:
        """Bytes it occupies in a key, value or event (8-byte aligned)."""
        return (self.size + 7) // 8 * 8

    @property
    def alignment(self) -> int:
        """Its alignment as a tuple item, as bpftrace's: an integer's size, 1 for strings
        and structs, an array's element's, the largest of a tuple's items; 8 for the rest."""
        if self.kind == "int" and self.size in (1, 2, 4, 8):
            return self.size
        if self.kind in ("str", "record"):  # bpftrace keeps a struct in a tuple as its bytes
            return 1
        if self.kind == "tuple":
            return max((item.alignment for item in self.items), default=1)
        if self.kind == "array" and self.align:
            return self.align
        return 8

    def offsets(self) -> list[int]:
        """Offsets of a tuple's items (each at its alignment, as in a C struct)."""
        return _layout(self.items)[0]

    def __str__(self) -> str:
        if self.kind == "int":
            return f"{'int' if self.signed else 'uint'}{self.size * 8}"
        if self.kind == "str":
            return f"string[{self.size}]"
        if self.kind == "tuple":
            return "(" + ",".join(str(i) for i in self.items) + ")"
        if self.kind == "ptr":
            return f"{self.name or 'void'} *"
        if self.kind in ("record", "array"):
            return self.name or self.kind
        return self.kind


INT64 = T("int", 8, True)
UINT64 = T("int", 8, False)
NONE = T("none", 0)


def string(size: int) -> T:
    return T("str", size)


def _layout(items: tuple[T, ...]) -> tuple[list[int], int]:
    """Offsets of C struct members of these types, and the struct's size."""
    offsets, at, align = [], 0, 1
    for item in items:
        a = item.alignment
        at = (at + a - 1) // a * a
        offsets.append(at)
        at += item.size
        align = max(align, a)
    return offsets, (at + align - 1) // align * align


def tuple_of(items: list[T]) -> T:
    return T("tuple", _layout(tuple(items))[1], items=tuple(items))


def decode_item(t: T, data: bytes, offset: int) -> object:
    """A tuple's item: integers take their own size there (elsewhere 64 bits)."""
    if t.kind == "int" and t.size in (1, 2, 4):
        return int.from_bytes(data[offset:offset + t.size], "little", signed=t.signed)
    return decode(t, data, offset)


def decode(t: T, data: bytes, offset: int = 0) -> object:
    """The Python value of a ``t`` laid out at ``offset`` of ``data``."""
    if t.kind == "str":
        raw = data[offset:offset + t.size]
        end = raw.find(b"\0")
        return (raw if end < 0 else raw[:end]).decode("utf-8", "replace")
    if t.kind == "tuple":
        return tuple(decode_item(item, data, offset + at) for item, at in zip(t.items, t.offsets()))
    if t.kind in ("inet", "mac", "buf", "bytes", "record", "array"):
        return bytes(data[offset:offset + t.size])
    if t.size == 16:  # usym, ustack: (address or stack id, pid)
        return struct.unpack_from("<QQ", data, offset)
    return struct.unpack_from("<q" if t.signed else "<Q", data, offset)[0]
