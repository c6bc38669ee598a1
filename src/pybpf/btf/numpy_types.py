"""BTF struct types as NumPy structured dtypes, so batches of fixed-size records (ring
buffer or perf buffer events, map values) decode in one ``numpy.frombuffer`` call instead
of one Python object per record.

NumPy has no bitfields: a struct with bitfield members is refused with the member named
(decode such records with :func:`pybpf.btf.decode`). NumPy is an optional dependency
(``pip install pybpf[numpy]``).
"""

from __future__ import annotations

from typing import Any

from pybpf.btf.check import check_acyclic
from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.types import Kind


def numpy_dtype(btf: BTF, type_id: int) -> Any:
    """The structured dtype laid out exactly as the BTF type (offsets and size)."""
    try:
        import numpy
    except ImportError:
        raise BTFError("NumPy is not installed (pip install numpy, or pybpf[numpy])") from None
    check_acyclic(btf, [type_id])
    return numpy.dtype(_describe(btf, type_id, numpy))


def _describe(btf: BTF, type_id: int, numpy: Any) -> Any:
    t = btf.resolve(type_id)
    if t.kind == Kind.INT:
        if t.bits % 8 or t.bit_offset:
            raise BTFError(f"integer type {t.name} of {t.bits} bits has no NumPy equivalent")
        return ("i" if t.encoding & 1 else "u") + str(t.size) if not t.encoding & 4 else "?"
    if t.kind in (Kind.ENUM, Kind.ENUM64):
        return ("i" if t.kind_flag else "u") + str(t.size)
    if t.kind == Kind.PTR:
        return "u8"
    if t.kind == Kind.FLOAT:
        return f"f{t.size}"
    if t.kind == Kind.ARRAY:
        element = btf.resolve(t.element)
        if element.kind == Kind.INT and btf.sizeof(t.element) == 1 and (element.encoding & 2 or element.name == "char"):
            return f"S{t.nelems}"
        return (_describe(btf, t.element, numpy), (t.nelems,))
    if t.kind in (Kind.STRUCT, Kind.UNION):
        names, formats, offsets = [], [], []
        for number, member in enumerate(t.members):
            if member.bit_size or member.offset % 8:
                raise BTFError(f"{t.name or 'struct'}.{member.name} is a bitfield: NumPy dtypes cannot hold it")
            names.append(member.name or f"_anon{number}")
            formats.append(_describe(btf, member.type, numpy))
            offsets.append(member.offset // 8)
        return {"names": names, "formats": formats, "offsets": offsets, "itemsize": t.size}
    raise BTFError(f"a {t.kind.name.lower()} has no NumPy equivalent")
