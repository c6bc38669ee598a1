"""Making clang's ``.BTF`` acceptable to the kernel's BTF_LOAD, as libbpf does.

clang writes BTF before the ELF layout is final, so in an object file:

- every DATASEC (``.data``, ``.rodata``, ``.bss``, ``.maps``, ``license``...) has size 0
  and its variables may have offset 0: the kernel refuses both ("Invalid size",
  "Invalid offset"). The sizes come from the ELF sections and the offsets from the
  symbols of the same names (static variables too: clang names both ``func.var``);
- the kernel wants a DATASEC's variables sorted by offset;
- ``extern`` variables (linkage ``global extern``) and functions (linkage ``extern``)
  are linkages the kernel does not accept in program BTF: they become global ones, and a
  DATASEC of externs with no ELF section (``.kconfig``, ``.ksyms``) is laid out in order.

The blob is patched in place (same types, same ids, same strings), so type ids that
``.BTF.ext`` and map definitions name stay valid.
"""

from __future__ import annotations

import struct

from pybpf.btf import BTFError, Kind
from pybpf.object.elf.reader import ElfObject, Symbol

_HEADER = struct.Struct("<HBBIIIII")
BTF_VAR_STATIC, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN = 0, 1, 2
BTF_FUNC_GLOBAL, BTF_FUNC_EXTERN = 1, 2
_U32_MAX = 0xFFFF_FFFF
#: bytes after the 12-byte common part, per kind: (fixed, per vlen entry)
_EXTRA = {
    Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12), Kind.ENUM: (0, 8),
    Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12), Kind.DECL_TAG: (4, 0),
    Kind.ENUM64: (0, 12),
}


def type_records(blob: bytes | bytearray) -> list[tuple[int, int, Kind, int]]:
    """(type id, byte offset of the record, kind, vlen) of every type in a BTF blob."""
    if len(blob) < _HEADER.size:
        raise BTFError(f"byte 0: {len(blob)} bytes is shorter than the BTF header")
    _magic, _version, _flags, hdr_len, type_off, type_len, _str_off, _str_len = _HEADER.unpack_from(blob)
    pos, end = hdr_len + type_off, hdr_len + type_off + type_len
    if end > len(blob):
        raise BTFError(f"byte {pos}: the type section runs past the end of the data")
    out: list[tuple[int, int, Kind, int]] = []
    while pos < end:
        info = struct.unpack_from("<I", blob, pos + 4)[0]
        try:
            kind = Kind((info >> 24) & 0x1F)
        except ValueError:
            raise BTFError(f"byte {pos}: unknown BTF kind {(info >> 24) & 0x1F}") from None
        vlen = info & 0xFFFF
        out.append((len(out) + 1, pos, kind, vlen))
        fixed, each = _EXTRA.get(kind, (0, 0))
        pos += 12 + fixed + each * vlen
    if pos != end:
        raise BTFError(f"byte {end}: the last type record runs past the type section")
    return out


def _string(blob: bytes | bytearray, offset: int) -> str:
    _magic, _version, _flags, hdr_len, _type_off, _type_len, str_off, str_len = _HEADER.unpack_from(blob)
    start = hdr_len + str_off
    if offset >= str_len:
        return ""
    return blob[start + offset:blob.index(b"\0", start + offset)].decode("utf-8", "replace")


def fix_btf(obj: ElfObject, raw: bytes) -> bytes:
    """``raw`` (the object's ``.BTF``) with DATASEC sizes, variable offsets and order, and
    extern linkages filled in as the kernel requires."""
    blob = _kfuncs_as_variables(bytearray(raw))
    records = type_records(blob)
    by_id = {type_id: (pos, kind, vlen) for type_id, pos, kind, vlen in records}
    symbols: dict[tuple[int, str], Symbol] = {}
    for sym in obj.symbols:
        if sym.section >= 0 and sym.type in ("STT_OBJECT", "STT_NOTYPE") and sym.name:
            symbols.setdefault((sym.section, sym.name), sym)
    for _type_id, pos, kind, vlen in records:
        if kind == Kind.VAR and struct.unpack_from("<I", blob, pos + 12)[0] == BTF_VAR_GLOBAL_EXTERN:
            struct.pack_into("<I", blob, pos + 12, BTF_VAR_GLOBAL_ALLOCATED)
        elif kind == Kind.FUNC and vlen == BTF_FUNC_EXTERN:
            info = struct.unpack_from("<I", blob, pos + 4)[0]
            struct.pack_into("<I", blob, pos + 4, (info & ~0xFFFF) | BTF_FUNC_GLOBAL)
        elif kind == Kind.DATASEC:
            _fix_datasec(obj, blob, pos, vlen, by_id, symbols)
    return bytes(blob)


def _kfuncs_as_variables(blob: bytearray) -> bytearray:
    """clang lists extern kfuncs in the ``.ksyms`` DATASEC as FUNCs, which the kernel
    refuses there: as libbpf does, those entries name one appended ``int`` VAR instead,
    and the kfuncs' unnamed parameters take its name (type ids and string offsets already
    in the blob stay as they are)."""
    records = type_records(blob)
    by_id = {type_id: (pos, kind, vlen) for type_id, pos, kind, vlen in records}
    entries, kfuncs = [], []
    for _type_id, pos, kind, vlen in records:
        if kind == Kind.DATASEC and _string(blob, struct.unpack_from("<I", blob, pos)[0]) == ".ksyms":
            for n in range(vlen):
                func = by_id.get(struct.unpack_from("<I", blob, pos + 12 + 12 * n)[0])
                if func is not None and func[1] == Kind.FUNC:
                    entries.append(pos + 12 + 12 * n)
                    kfuncs.append(func[0])
    if not entries:
        return blob
    _magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(blob)
    name_off = str_len                          # the VAR's name, appended to the strings
    int_id, var_id = len(records) + 1, len(records) + 2
    added = (struct.pack("<IIII", 0, int(Kind.INT) << 24, 4, (1 << 24) | 32)          # int (signed, 32 bits)
             + struct.pack("<IIII", name_off, int(Kind.VAR) << 24, int_id, BTF_VAR_GLOBAL_ALLOCATED))
    types_end, strings = hdr_len + type_off + type_len, hdr_len + str_off
    out = bytearray(blob[:types_end]) + added + blob[types_end:strings] + blob[strings:strings + str_len] \
        + b"__pybpf_ksym\0" + blob[strings + str_len:]
    _HEADER.pack_into(out, 0, _magic, _version, _flags, hdr_len, type_off, type_len + len(added),
                      str_off + len(added) if str_off >= type_off + type_len else str_off,
                      str_len + len(b"__pybpf_ksym\0"))
    for at in entries:   # positions before the type section's end are unchanged
        struct.pack_into("<II", out, at, var_id, 0)
        struct.pack_into("<I", out, at + 8, 4)
    # the kernel wants a global function's parameters named: unnamed ones of a kfunc's
    # prototype take the appended name, as libbpf does
    for func_pos in kfuncs:
        proto = by_id.get(struct.unpack_from("<I", out, func_pos + 8)[0])
        if proto is None or proto[1] != Kind.FUNC_PROTO:
            continue
        for n in range(proto[2]):
            at = proto[0] + 12 + 8 * n
            param_name, param_type = struct.unpack_from("<II", out, at)
            if not param_name and param_type:
                struct.pack_into("<I", out, at, name_off)
    return out


def _fix_datasec(obj: ElfObject, blob: bytearray, pos: int, vlen: int,
                 by_id: dict[int, tuple[int, Kind, int]], symbols: dict) -> None:
    name = _string(blob, struct.unpack_from("<I", blob, pos)[0])
    section = obj.section(name)
    entries = []
    for number in range(vlen):
        at = pos + 12 + 12 * number
        var_id, offset, size = struct.unpack_from("<III", blob, at)
        var = by_id.get(var_id)
        if var is None or var[1] != Kind.VAR:
            raise BTFError(f"DATASEC {name!r}: entry {number} is type {var_id}, not a VAR")
        var_name = _string(blob, struct.unpack_from("<I", blob, var[0])[0])
        if section is not None:
            sym = symbols.get((section.index, var_name))
            if sym is not None:
                offset = sym.value
        entries.append((offset, var_id, size))
    if section is not None:
        total = section.size
    else:  # externs only: lay them out one after the other, 8-byte aligned
        laid, total = [], 0
        for _offset, var_id, size in entries:
            laid.append((total, var_id, size))
            total += (size + 7) & ~7
        entries = laid
    if total > _U32_MAX:
        raise BTFError(f"DATASEC {name!r}: its section is {total} bytes, more than BTF can describe")
    entries.sort()
    for number, (offset, var_id, size) in enumerate(entries):
        if offset + size > total:
            raise BTFError(f"DATASEC {name!r}: variable {var_id} at offset {offset} ({size} bytes) lies past "
                           f"the end of the section ({total} bytes)")
        struct.pack_into("<III", blob, pos + 12 + 12 * number, var_id, offset, size)
    struct.pack_into("<I", blob, pos + 8, total)
