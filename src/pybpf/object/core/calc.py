"""What a CO-RE relocation's instruction should hold: the value computed in the local
BTF (what clang put in the instruction) and in the target BTF, over every candidate.

Every candidate that matches must give the same answer, or the relocation is ambiguous
(an error, as in libbpf). When none matches, the ``*_EXISTS``/``TYPE_MATCHES`` kinds and
the other type-based kinds resolve to 0; the rest ask for the instruction to be
poisoned (see :mod:`pybpf.object.core.patch`).
"""

from __future__ import annotations

import enum
import weakref

from pybpf.btf import BTF, BTFError, Kind
from pybpf.object.core.spec import (
    Spec,
    describe,
    essential_name,
    kinds_compatible,
    match_enum_spec,
    match_field_spec,
    parse_enum_spec,
    parse_field_spec,
    skip_modifiers,
    types_compatible,
    types_match,
)

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


class ReloKind(enum.IntEnum):
    """enum bpf_core_relo_kind."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

    @property
    def field_based(self) -> bool:
        return self <= ReloKind.FIELD_RSHIFT_U64

    @property
    def enum_based(self) -> bool:
        return self in (ReloKind.ENUMVAL_EXISTS, ReloKind.ENUMVAL_VALUE)


class _Unresolved(Exception):
    """The relocation cannot be satisfied: poison the instruction (why in args[0])."""


@dataclass
class Result:
    """The outcome for one relocation. With ``poison`` the instruction must fail if
    reached (``reason`` says why); otherwise it goes from ``old`` to ``new``. ``validate``
    says whether the instruction must hold ``old`` now (not for bitfields, where clang may
    choose another load). ``old_size``/``new_size`` are field sizes for a load or store."""

    old: int = 0
    new: int = 0
    poison: bool = False
    reason: str = ""
    validate: bool = True
    old_size: int = 0
    new_size: int = 0
    size_unsafe: bool = False
    target_offset: int = -1


def _field_value(kind: ReloKind, spec: Spec | None) -> tuple[int, int, int, bool]:
    """(value, field size, field type id, validate) of a field relocation in one BTF."""
    if kind == ReloKind.FIELD_EXISTS:
        return (1 if spec else 0), 0, 0, True
    if spec is None:
        raise _Unresolved("the field does not exist in the target")
    btf, last = spec.btf, spec.accesses[-1]
    if not last.name:  # an array element
        size = btf.sizeof(last.type_id)
        if kind == ReloKind.FIELD_BYTE_OFFSET:
            return spec.bit_offset // 8, size, last.type_id, True
        if kind == ReloKind.FIELD_BYTE_SIZE:
            return size, 0, 0, True
        raise BTFError(f"a {kind.name} relocation on an array element is meaningless")
    composite = btf[last.type_id]
    member = composite.members[last.index]
    field_id, field_type = skip_modifiers(btf, member.type)
    bit_off, bit_size = spec.bit_offset, member.bit_size
    bitfield = bit_size > 0
    if bitfield:
        byte_size = field_type.size
        byte_off = bit_off // 8 // byte_size * byte_size
        while bit_off + bit_size - byte_off * 8 > byte_size * 8:
            if byte_size >= 8:
                raise BTFError(f"bitfield {member.name} cannot be read with one 64-bit load")
            byte_size *= 2
            byte_off = bit_off // 8 // byte_size * byte_size
    else:
        byte_size = btf.sizeof(field_id)
        byte_off = bit_off // 8
        bit_size = byte_size * 8
    if kind == ReloKind.FIELD_BYTE_OFFSET:
        return byte_off, (0 if bitfield else byte_size), (0 if bitfield else field_id), not bitfield
    if kind == ReloKind.FIELD_BYTE_SIZE:
        return byte_size, 0, 0, not bitfield
    if kind == ReloKind.FIELD_SIGNED:
        signed = (field_type.kind in (Kind.ENUM, Kind.ENUM64) and field_type.kind_flag) or (
            field_type.kind == Kind.INT and bool(field_type.encoding & 1))
        return int(signed), 0, 0, True
    if kind == ReloKind.FIELD_LSHIFT_U64:
        return 64 - (bit_off + bit_size - byte_off * 8), 0, 0, not bitfield
    return 64 - bit_size, 0, 0, True   # FIELD_RSHIFT_U64


def _type_value(kind: ReloKind, spec: Spec | None) -> tuple[int, bool]:
    if spec is None:
        return 0, True
    if kind == ReloKind.TYPE_ID_TARGET:
        return spec.root_id, False
    if kind in (ReloKind.TYPE_EXISTS, ReloKind.TYPE_MATCHES):
        return 1, True
    if kind == ReloKind.TYPE_SIZE:
        return spec.btf.sizeof(spec.root_id), True
    raise BTFError(f"unexpected relocation kind {kind.name}")


def _enum_value(kind: ReloKind, spec: Spec | None) -> int:
    if kind == ReloKind.ENUMVAL_EXISTS:
        return 1 if spec else 0
    if spec is None:
        raise _Unresolved("the enumerator does not exist in the target")
    access = spec.accesses[0]
    return spec.btf[access.type_id].members[access.index].value


def _result(kind: ReloKind, local: Spec, target: Spec | None) -> Result:
    """The local and target values of one relocation for one candidate (or none)."""
    try:
        if kind.field_based:
            old, old_size, old_type, validate = _field_value(kind, local)
            new, new_size, new_type, _ = _field_value(kind, target)
            result = Result(old, new, validate=validate, old_size=old_size, new_size=new_size)
            if target is not None:
                result.target_offset = target.bit_offset
            if old_size != new_size and target is not None:
                a, b = local.btf[old_type], target.btf[new_type]
                safe = (a.kind == b.kind == Kind.PTR) or (
                    a.kind == b.kind == Kind.INT and not a.encoding & 1 and not b.encoding & 1)
                result.size_unsafe = not safe
            return result
        if kind.enum_based:
            return Result(_enum_value(kind, local), _enum_value(kind, target))
        old, validate = _type_value(kind, local)
        new, _ = _type_value(kind, target)
        return Result(old, new, validate=validate)
    except _Unresolved as unresolved:
        return Result(poison=True, reason=str(unresolved))


_CANDIDATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def candidates(local: BTF, local_id: int, target: BTF) -> list[int]:
    """Target types of the local type's kind whose names equal its name without a
    ``___flavor`` suffix (the target's names are compared the same way).

    Only the names that can match are looked up — the essential name itself and the
    target's names that start with it and ``___`` — so no other target type is decoded.
    """
    wanted = local[local_id]
    essential = essential_name(wanted.name)
    if not essential:
        return []
    by_name = _CANDIDATES.setdefault(target, {})
    ids = by_name.get(essential)
    if ids is None:
        found = set(target.type_ids(essential)) if essential_name(essential) == essential else set()
        for name in target.names_with_prefix(essential + "___"):
            if essential_name(name) == essential:
                found.update(target.type_ids(name))
        ids = by_name[essential] = sorted(found)
    return [i for i in ids if kinds_compatible(target[i], wanted)]


def calculate(kind: ReloKind, local: BTF, root_id: int, access: str, target: BTF) -> Result:
    """The relocation's result against ``target``; :class:`BTFError` when the record
    itself is malformed or the answer is ambiguous."""
    try:
        raw = [int(part) for part in access.split(":")]
    except ValueError:
        raise BTFError(f"access string {access!r} is not colon-separated numbers") from None
    root = local[root_id]
    if kind == ReloKind.TYPE_ID_LOCAL:
        return Result(root_id, root_id)
    if kind.field_based:
        spec = parse_field_spec(local, root_id, raw)
    elif kind.enum_based:
        spec = parse_enum_spec(local, root_id, raw)
    else:
        if raw != [0]:
            raise BTFError(f"a type relocation's access string is '0', not {access!r}")
        spec = Spec(local, root_id, raw=raw)
    if not root.name:
        raise BTFError(f"{kind.name} relocation on an anonymous {root.kind.name.lower()}: "
                       "candidates are found by name")
    chosen: Result | None = None
    chosen_spec: Spec | None = None
    for candidate in candidates(local, root_id, target):
        if kind.field_based:
            found = match_field_spec(spec, target, candidate)
        elif kind.enum_based:
            found = match_enum_spec(spec, target, candidate)
        elif kind == ReloKind.TYPE_MATCHES:
            found = Spec(target, candidate) if types_match(local, root_id, target, candidate) else None
        else:
            found = Spec(target, candidate) if types_compatible(local, root_id, target, candidate) else None
        if found is None:
            continue
        result = _result(kind, spec, found)
        if chosen is None or chosen_spec is None:        # (both are set together)
            chosen, chosen_spec = result, found
        elif kind.field_based and found.bit_offset != chosen_spec.bit_offset:
            raise BTFError(f"field offset ambiguity: target types {chosen_spec.root_id} and {candidate} "
                           f"({describe(target, candidate)}) put it at bits {chosen_spec.bit_offset} and "
                           f"{found.bit_offset}")
        elif result.poison != chosen.poison or (not result.poison and result.new != chosen.new):
            raise BTFError(f"relocation decision ambiguity: target types {chosen_spec.root_id} and {candidate} "
                           f"({describe(target, candidate)}) give {chosen.new} and {result.new}")
    if chosen is None:
        chosen = _result(kind, spec, None)
    return chosen
