"""Python values into the bytes of a BTF-described type — the inverse of
:func:`pybpf.btf.decode.decode`, so a map whose program's BTF describes its key and
value takes ``{"pid": 1, "comm": "bash"}`` (or the :class:`Record` it handed out) as well
as it gives one back.

Structs and unions take mappings (fields not given are zero); arrays take sequences
(``char`` arrays also ``str``/``bytes``, zero-padded); enums take their names or numbers;
integers are range-checked against their size and signedness, bitfields included.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from pybpf.btf.check import check_acyclic
from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.types import Kind

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


def encode(btf: BTF, type_id: int, value: Any) -> bytes:
    """``value`` as the bytes of type ``type_id`` (exactly its size)."""
    check_acyclic(btf, [type_id])
    out = bytearray(btf.sizeof(type_id))
    _write(btf, type_id, value, out, 0, 0, "value")
    return bytes(out)


def _integer(value: Any, bits: int, signed: bool, where: str) -> int:
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise BTFError(f"{where}: expected an integer, got {type(value).__name__}")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise BTFError(f"{where}: {value} does not fit in {'a signed' if signed else 'an unsigned'} {bits}-bit field")
    return value & ((1 << bits) - 1)


def _put_bits(out: bytearray, byte: int, bit: int, width: int, raw: int) -> None:
    span = (bit + width + 7) // 8
    current = int.from_bytes(out[byte:byte + span], "little")
    mask = ((1 << width) - 1) << bit
    current = (current & ~mask) | (raw << bit)
    out[byte:byte + span] = current.to_bytes(span, "little")


def _write(btf: BTF, type_id: int, value: Any, out: bytearray, byte: int, bit_size: int, where: str,
           bit: int = 0) -> None:
    t = btf.resolve(type_id)
    if bit_size or (t.kind == Kind.INT and t.bits % 8):
        width = bit_size or t.bits
        signed = t.kind == Kind.INT and bool(t.encoding & 1)
        start = bit + (t.bit_offset if t.kind == Kind.INT else 0)
        _put_bits(out, byte, start, width, _integer(_enum_number(t, value, where), width, signed, where))
        return
    size = btf.sizeof(type_id)
    if t.kind == Kind.INT:
        out[byte:byte + size] = _integer(value, 8 * size, bool(t.encoding & 1), where).to_bytes(size, "little")
    elif t.kind in (Kind.ENUM, Kind.ENUM64):
        number = _integer(_enum_number(t, value, where), 8 * size, t.kind_flag, where)
        out[byte:byte + size] = number.to_bytes(size, "little")
    elif t.kind == Kind.PTR:
        out[byte:byte + 8] = _integer(value, 64, False, where).to_bytes(8, "little")
    elif t.kind == Kind.FLOAT:
        if not isinstance(value, (int, float)):
            raise BTFError(f"{where}: expected a number, got {type(value).__name__}")
        out[byte:byte + size] = struct.pack("<d" if size == 8 else "<f", value)
    elif t.kind == Kind.ARRAY:
        _write_array(btf, t, value, out, byte, where)
    elif t.kind in (Kind.STRUCT, Kind.UNION):
        _write_record(btf, t, value, out, byte, where)
    else:
        raise BTFError(f"{where}: cannot encode a {t.kind.name.lower()} ({t.name or type_id})")


def _enum_number(t: Any, value: Any, where: str) -> Any:
    if t.kind in (Kind.ENUM, Kind.ENUM64) and isinstance(value, str):
        for member in t.members:
            if member.name == value:
                return member.value
        raise BTFError(f"{where}: {value!r} is not a value of enum {t.name or '(anonymous)'}")
    return value


def _write_array(btf: BTF, t: Any, value: Any, out: bytearray, byte: int, where: str) -> None:
    element = btf.resolve(t.element)
    width = btf.sizeof(t.element)
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, (bytes, bytearray)) and width == 1 and element.kind == Kind.INT:
        if len(value) > t.nelems:
            raise BTFError(f"{where}: {len(value)} bytes do not fit in char[{t.nelems}]")
        out[byte:byte + len(value)] = value
        return
    if not isinstance(value, Sequence):
        raise BTFError(f"{where}: expected a sequence of {t.nelems}, got {type(value).__name__}")
    if len(value) > t.nelems:
        raise BTFError(f"{where}: {len(value)} elements do not fit in an array of {t.nelems}")
    for i, item in enumerate(value):
        _write(btf, t.element, item, out, byte + i * width, 0, f"{where}[{i}]")


def _write_record(btf: BTF, t: Any, value: Any, out: bytearray, byte: int, where: str) -> None:
    if not isinstance(value, Mapping):
        raise BTFError(f"{where}: expected a mapping of fields for {t.kind.name.lower()} {t.name}, "
                       f"got {type(value).__name__}")
    named = {m.name: m for m in t.members if m.name}
    anonymous = [m for m in t.members if not m.name]
    for name, item in value.items():
        member = named.get(name)
        if member is not None:
            at, bit = divmod(member.offset, 8)
            _write(btf, member.type, item, out, byte + at, member.bit_size, f"{where}.{name}", bit)
            continue
        # a field of an anonymous struct/union member, read through as decode() does
        for holder in anonymous:
            inner = btf.resolve(holder.type)
            if any(m.name == name for m in inner.members):
                _write_record(btf, inner, {name: item}, out, byte + holder.offset // 8, where)
                break
        else:
            raise BTFError(f"{where}: {t.kind.name.lower()} {t.name or '(anonymous)'} has no field {name!r}")
