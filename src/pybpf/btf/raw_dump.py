"""BTF as a listing, one type per ``[id] KIND 'name' ...`` line with its members indented
below, in the format ``bpftool btf dump file X`` prints, so the two can be diffed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pybpf.btf.parse import BTF
from pybpf.btf.types import Kind, Type

_INT_ENCODINGS = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_FUNC_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_VAR_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def dump_raw(btf: BTF, type_ids: Iterable[int] | None = None) -> str:
    """The listing of ``type_ids`` (every type when None), one line per type plus one per
    member, parameter, enumerator or section variable."""
    ids = range(1, len(btf)) if type_ids is None else type_ids
    return "".join(line + "\n" for type_id in ids for line in _lines(btf, btf[type_id]))


def _lines(btf: BTF, t: Type) -> Iterator[str]:
    kind = t.kind
    head = f"[{t.id}] {kind.name} '{t.name or '(anon)'}'"
    if kind == Kind.INT:
        encoding = _INT_ENCODINGS.get(t.encoding, "UNKN")
        yield f"{head} size={t.size} bits_offset={t.bit_offset} nr_bits={t.bits} encoding={encoding}"
    elif kind in (Kind.PTR, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPEDEF, Kind.TYPE_TAG):
        yield f"{head} type_id={t.ref}"
    elif kind == Kind.ARRAY:
        yield f"{head} type_id={t.element} index_type_id={t.index_type} nr_elems={t.nelems}"
    elif kind in (Kind.STRUCT, Kind.UNION):
        yield f"{head} size={t.size} vlen={len(t.members)}"
        for m in t.members:
            bits = f" bitfield_size={m.bit_size}" if m.bit_size else ""
            yield f"\t'{m.name or '(anon)'}' type_id={m.type} bits_offset={m.offset}{bits}"
    elif kind in (Kind.ENUM, Kind.ENUM64):
        signed = t.kind_flag
        yield f"{head} encoding={'SIGNED' if signed else 'UNSIGNED'} size={t.size} vlen={len(t.members)}"
        for m in t.members:
            if kind == Kind.ENUM:
                value = f"{m.value if signed else m.value & 0xFFFFFFFF}"
            else:
                value = f"{m.value}LL" if signed else f"{m.value & (1 << 64) - 1}ULL"
            yield f"\t'{m.name}' val={value}"
    elif kind == Kind.FWD:
        yield f"{head} fwd_kind={'union' if t.kind_flag else 'struct'}"
    elif kind == Kind.FUNC:
        yield f"{head} type_id={t.ref} linkage={_FUNC_LINKAGE.get(t.linkage, 'UNKN')}"
    elif kind == Kind.FUNC_PROTO:
        yield f"{head} ret_type_id={t.ref} vlen={len(t.members)}"
        for p in t.members:
            yield f"\t'{p.name or '(anon)'}' type_id={p.type}"
    elif kind == Kind.VAR:
        yield f"{head} type_id={t.ref}, linkage={_VAR_LINKAGE.get(t.linkage, 'UNKN')}"
    elif kind == Kind.DATASEC:
        yield f"{head} size={t.size} vlen={len(t.members)}"
        for v in t.members:
            yield f"\ttype_id={v.type} offset={v.offset} size={v.size} (VAR '{btf[v.type].name}')"
    elif kind == Kind.FLOAT:
        yield f"{head} size={t.size}"
    elif kind == Kind.DECL_TAG:
        yield f"{head} type_id={t.ref} component_idx={t.component}"
    else:
        yield head
