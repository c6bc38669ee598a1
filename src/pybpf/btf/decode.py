"""Values of BTF-described types decoded from bytes: integers (signed or not, bitfields
included), enums, pointers as addresses, arrays (``char`` arrays as text), structs and
unions as :class:`Record` objects with named fields — how ring buffer records and map
values read when their program's BTF describes them.
"""

from __future__ import annotations

from pybpf.btf.check import check_acyclic
from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.types import Kind

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


class Record(dict):
    """A decoded struct or union: a dict that also reads as attributes (``rec.pid``)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str, fields: dict[str, Any]):
        super().__init__(fields)
        self.type_name = type_name

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{self.type_name or 'record'} has no field {name!r}") from None

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"{self.type_name or 'record'}({inner})"


def decode(btf: BTF, type_id: int, data: bytes, bit_offset: int = 0, bit_size: int = 0) -> Any:
    """The value of type ``type_id`` at the start of ``data`` (``bit_offset``/``bit_size``
    for bitfield members)."""
    check_acyclic(btf, [type_id])
    return _decode(btf, type_id, data, bit_offset, bit_size)


def _decode(btf: BTF, type_id: int, data: bytes, bit_offset: int, bit_size: int) -> Any:
    t = btf.resolve(type_id)
    size = btf.sizeof(type_id) if t.kind not in (Kind.VOID, Kind.FUNC_PROTO, Kind.FWD) else 0
    if bit_size or (t.kind == Kind.INT and t.bits % 8):
        width = bit_size or t.bits
        start = bit_offset + (t.bit_offset if t.kind == Kind.INT else 0)
        raw = int.from_bytes(data[: (start + width + 7) // 8], "little") >> start
        value = raw & ((1 << width) - 1)
        signed = t.kind == Kind.INT and t.encoding & 1
        return value - (1 << width) if signed and value >> (width - 1) else value
    if len(data) < size:
        raise BTFError(f"{size} bytes are needed for {t.kind.name.lower()} {t.name or type_id}, got {len(data)}")
    if t.kind == Kind.INT:
        if t.encoding & 4:  # bool
            return bool(int.from_bytes(data[:size], "little"))
        return int.from_bytes(data[:size], "little", signed=bool(t.encoding & 1))
    if t.kind in (Kind.ENUM, Kind.ENUM64):
        value = int.from_bytes(data[:size], "little", signed=t.kind_flag)
        names = {m.value: m.name for m in t.members}
        return names.get(value, value)
    if t.kind == Kind.PTR:
        return int.from_bytes(data[:8], "little")
    if t.kind == Kind.FLOAT:
        import struct

        code = {2: "<e", 4: "<f", 8: "<d"}.get(size)
        if code is None:
            raise BTFError(f"type {type_id}: a {size}-byte float (Python reads 2, 4 or 8)")
        return struct.unpack(code, data[:size])[0]
    if t.kind == Kind.ARRAY:
        element = btf.resolve(t.element)
        width = btf.sizeof(t.element)
        if element.kind == Kind.INT and width == 1 and element.encoding & 2 or (element.name == "char"):
            return data[:t.nelems].split(b"\0", 1)[0].decode("utf-8", "replace")
        return [_decode(btf, t.element, data[i * width:(i + 1) * width], 0, 0) for i in range(t.nelems)]
    if t.kind in (Kind.STRUCT, Kind.UNION):
        fields: dict[str, Any] = {}
        for member in t.members:
            byte, bits = divmod(member.offset, 8)
            name = member.name or f"_anon{len(fields)}"
            value = _decode(btf, member.type, data[byte:], bits, member.bit_size)
            if not member.name and isinstance(value, Record):
                fields.update(value)       # anonymous struct/union members are read through
            else:
                fields[name] = value
        return Record(t.name, fields)
    raise BTFError(f"cannot decode a {t.kind.name.lower()} ({t.name or type_id})")
