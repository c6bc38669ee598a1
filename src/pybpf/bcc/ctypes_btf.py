"""ctypes types from BTF, so a BCC table's ``Key``/``Leaf`` (and a perf event's record)
are the same ctypes structures BCC builds from its own type information."""

from __future__ import annotations

import ctypes
from typing import Any

from pybpf.btf import BTF, Kind

_INTS = {(1, True): ctypes.c_int8, (1, False): ctypes.c_uint8, (2, True): ctypes.c_int16,
         (2, False): ctypes.c_uint16, (4, True): ctypes.c_int32, (4, False): ctypes.c_uint32,
         (8, True): ctypes.c_int64, (8, False): ctypes.c_uint64}


def ctype_of(btf: BTF, type_id: int, cache: dict[int, Any] | None = None) -> Any:
    """The ctypes type of BTF type ``type_id`` (structs keep their member names; pointers
    are 64-bit integers; a named char array is ``c_char * n`` as in BCC)."""
    cache = {} if cache is None else cache
    if type_id in cache:
        return cache[type_id]
    t = btf.types[type_id] if type_id else None
    if t is None:
        return ctypes.c_uint8 * 0
    if t.kind in (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
        result = ctype_of(btf, t.ref, cache)
    elif t.kind == Kind.INT:
        if t.name == "char" or (t.size == 1 and t.encoding & 2):
            result = ctypes.c_char
        elif t.encoding & 4:
            result = ctypes.c_bool
        elif t.size == 16:
            result = ctypes.c_uint64 * 2
        else:
            result = _INTS[(t.size, bool(t.encoding & 1))]
    elif t.kind in (Kind.ENUM, Kind.ENUM64):
        result = _INTS[(t.size, t.kind_flag)]
    elif t.kind == Kind.PTR:
        result = ctypes.c_uint64
    elif t.kind == Kind.ARRAY:
        result = ctype_of(btf, t.element, cache) * t.nelems
    elif t.kind in (Kind.STRUCT, Kind.UNION):
        result = _record(btf, t, cache)
    else:
        result = ctypes.c_uint8 * btf.sizeof(type_id)
    cache[type_id] = result
    return result


def _record(btf: BTF, t: Any, cache: dict[int, Any]) -> Any:
    base = ctypes.Structure if t.kind == Kind.STRUCT else ctypes.Union
    fields: list[tuple] = []
    for n, m in enumerate(t.members):
        name = m.name or f"__anon{n}"
        member_type = ctype_of(btf, m.type, cache)
        if t.kind == Kind.STRUCT:
            laid_out = ctypes.sizeof(type("_", (base,), {"_pack_": 1, "_fields_": list(fields)}))
            if m.offset // 8 > laid_out and not m.bit_size:
                fields.append((f"__pad_{n}", ctypes.c_uint8 * (m.offset // 8 - laid_out)))
        if m.bit_size and member_type is not ctypes.c_char and issubclass(member_type, ctypes._SimpleCData):
            fields.append((name, member_type, m.bit_size))
        else:
            fields.append((name, member_type))
    size = ctypes.sizeof(type("_", (base,), {"_pack_": 1, "_fields_": list(fields)}))
    if size < t.size:
        fields.append(("__pad_end", ctypes.c_uint8 * (t.size - size)))
    return type(t.name or "anon", (base,), {"_pack_": 1, "_fields_": fields})
