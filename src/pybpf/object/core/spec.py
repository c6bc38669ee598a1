"""Access specs: what a CO-RE relocation reaches in the program's own (local) BTF, and
the same path found in a target BTF by names.

A relocation's access string ``"0:1:2"`` starts with an array index on the root type
(``p[0]``), then one index per step: a member number for structs and unions, an
element number for arrays. Locally the numbers are followed; in the target the *names*
of the members are followed (anonymous members are searched through), so a field moved
or a struct grown in another kernel still resolves. The rules are libbpf's
(``relo_core.c``): candidates are the target types of the same kind whose names equal
the local name up to a ``___flavor`` suffix, fields match by exact name and compatible
types, and array indexes must be within bounds unless the array is a flexible last member.
"""

from __future__ import annotations

from pybpf.btf import BTF, BTFError, Kind, Type

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

_MODIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
_ENUMS = (Kind.ENUM, Kind.ENUM64)
_COMPOSITES = (Kind.STRUCT, Kind.UNION)
#: how deep an access may nest (libbpf's BPF_CORE_SPEC_MAX_LEN)
MAX_SPEC_LEN = 64


@dataclass(frozen=True)
class Access:
    """One step: member ``index`` of composite ``type_id`` (``name`` set), or element
    ``index`` of an array whose element type is ``type_id`` (``name`` empty)."""

    type_id: int
    index: int
    name: str = ""


@dataclass
class Spec:
    """An access path resolved in one BTF: named steps, raw indexes, and the bit offset
    of what it reaches from the start of the root object."""

    btf: BTF
    root_id: int
    accesses: list[Access] = field(default_factory=list)
    raw: list[int] = field(default_factory=list)
    bit_offset: int = 0


def skip_modifiers(btf: BTF, type_id: int) -> tuple[int, Type]:
    """The id and type behind typedefs and modifiers."""
    for _ in range(64):
        t = btf[type_id]
        if t.kind not in _MODIFIERS:
            return type_id, t
        type_id = t.ref
    raise BTFError(f"type {type_id} refers to itself through typedefs/modifiers")


def essential_name(name: str) -> str:
    """``name`` without a ``___flavor`` suffix: the last ``X___Y`` split (X and Y not
    underscores) ends the essential part (``task_struct___old`` → ``task_struct``)."""
    if "___" not in name:
        return name
    for i in range(len(name) - 5, -1, -1):
        s = name[i:i + 5]
        if s[0] != "_" and s[1:4] == "___" and s[4] != "_":
            return name[:i + 1]
    return name


def kinds_compatible(a: Type, b: Type) -> bool:
    """Same kind, counting ENUM and ENUM64 as one."""
    return a.kind == b.kind or (a.kind in _ENUMS and b.kind in _ENUMS)


def is_composite(t: Type) -> bool:
    return t.kind in _COMPOSITES


def describe(btf: BTF, type_id: int) -> str:
    """``struct task_struct`` / ``enum foo`` / ``typedef u32``: a type as C spells it."""
    t = btf[type_id]
    kind = {Kind.STRUCT: "struct", Kind.UNION: "union", Kind.ENUM: "enum", Kind.ENUM64: "enum",
            Kind.TYPEDEF: "typedef", Kind.FWD: "union" if t.kind_flag else "struct"}.get(t.kind,
                                                                                     t.kind.name.lower())
    return f"{kind} {t.name or '(anonymous)'}"


def parse_field_spec(btf: BTF, root_id: int, raw: list[int]) -> Spec:
    """The local spec of a field access (``raw`` from the access string)."""
    spec = Spec(btf, root_id, raw=list(raw))
    if not raw:
        raise BTFError("empty access string")
    if len(raw) > MAX_SPEC_LEN:
        raise BTFError(f"access string nests {len(raw)} deep, more than {MAX_SPEC_LEN}")
    type_id, _ = skip_modifiers(btf, root_id)
    spec.bit_offset = raw[0] * btf.sizeof(type_id) * 8
    spec.accesses.append(Access(type_id, raw[0]))
    for index in raw[1:]:
        type_id, t = skip_modifiers(btf, type_id)
        if is_composite(t):
            if index >= len(t.members):
                raise BTFError(f"member index {index} is past the {len(t.members)} members of {describe(btf, type_id)}")
            member = t.members[index]
            spec.bit_offset += member.offset
            if member.name:
                spec.accesses.append(Access(type_id, index, member.name))
            type_id = member.type
        elif t.kind == Kind.ARRAY:
            element_id, _ = skip_modifiers(btf, t.element)
            if not _flexible(btf, spec.accesses[-1], t) and index >= t.nelems:
                raise BTFError(f"array index {index} is past the {t.nelems} elements")
            spec.accesses.append(Access(element_id, index))
            spec.bit_offset += index * btf.sizeof(element_id) * 8
            type_id = element_id
        else:
            raise BTFError(f"access index {index} steps into {describe(btf, type_id)}, which has no members")
    return spec


def parse_enum_spec(btf: BTF, root_id: int, raw: list[int]) -> Spec:
    """The local spec of an enumerator access: one index into the enum's values."""
    type_id, t = skip_modifiers(btf, root_id)
    if t.kind not in _ENUMS or len(raw) != 1 or not 0 <= raw[0] < len(t.members):
        raise BTFError(f"enumerator access {':'.join(map(str, raw))} does not name a value of "
                       f"{describe(btf, root_id)}")
    return Spec(btf, root_id, [Access(type_id, raw[0], t.members[raw[0]].name)], list(raw))


def _flexible(btf: BTF, parent: Access, array: Type) -> bool:
    """An array of no elements that is the last member of its struct (``char data[]``)."""
    if not parent.name or array.nelems:
        return False
    return parent.index == len(btf[parent.type_id].members) - 1


def match_field_spec(local: Spec, target: BTF, target_id: int) -> Spec | None:
    """The target spec reaching the same field as ``local`` from target type
    ``target_id``, or None when the target has no such field (or an incompatible one)."""
    spec = Spec(target, target_id)
    type_id = target_id
    for number, access in enumerate(local.accesses):
        if access.name:
            found = _match_member(local, access, spec, type_id)
            if found is None:
                return None
            type_id = found
            continue
        if number > 0:
            type_id, t = skip_modifiers(target, type_id)
            if t.kind != Kind.ARRAY:
                return None
            if not _flexible(target, spec.accesses[-1], t) and access.index >= t.nelems:
                return None
            type_id, _ = skip_modifiers(target, t.element)
        else:
            type_id, _ = skip_modifiers(target, type_id)
        spec.accesses.append(Access(type_id, access.index))
        spec.raw.append(access.index)
        spec.bit_offset += access.index * target.sizeof(type_id) * 8
    return spec


def _match_member(local: Spec, access: Access, spec: Spec, type_id: int) -> int | None:
    """Find local member ``access`` in target composite ``type_id`` by name, searching
    anonymous members; extend ``spec`` and return the member's type id."""
    type_id, t = skip_modifiers(spec.btf, type_id)
    if not is_composite(t):
        return None
    local_member = local.btf[access.type_id].members[access.index]
    for index, member in enumerate(t.members):
        if len(spec.raw) >= MAX_SPEC_LEN:
            raise BTFError(f"the target's {describe(spec.btf, type_id)} nests more than {MAX_SPEC_LEN} deep")
        spec.bit_offset += member.offset
        spec.raw.append(index)
        if not member.name:
            found = _match_member(local, access, spec, member.type)
            if found is not None:
                return found
        elif member.name == access.name:
            if not fields_compatible(local.btf, local_member.type, spec.btf, member.type):
                return None
            spec.accesses.append(Access(type_id, index, member.name))
            return member.type
        spec.bit_offset -= member.offset
        spec.raw.pop()
    return None


def _names_match(local: Type, target: Type) -> bool:
    return essential_name(local.name) == essential_name(target.name)


def fields_compatible(local: BTF, local_id: int, target: BTF, target_id: int) -> bool:
    """Whether a field of type ``local_id`` may be read as the target's ``target_id``:
    any two structs/unions, pointers, floats; integers that are not old-style bitfield
    ints; enums and forward declarations of the same (essential) name; arrays of
    compatible elements."""
    for _ in range(64):
        local_id, lt = skip_modifiers(local, local_id)
        target_id, tt = skip_modifiers(target, target_id)
        if is_composite(lt) and is_composite(tt):
            return True
        if not kinds_compatible(lt, tt):
            return False
        if lt.kind in (Kind.PTR, Kind.FLOAT):
            return True
        if lt.kind in (Kind.FWD, *_ENUMS):
            return _names_match(lt, tt)
        if lt.kind == Kind.INT:
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if lt.kind != Kind.ARRAY:
            return False
        local_id, target_id = lt.element, tt.element
    return False


def types_compatible(local: BTF, local_id: int, target: BTF, target_id: int, depth: int = 32) -> bool:
    """libbpf's type compatibility for type relocations: the same kinds all the way
    down through pointers, arrays and function prototypes (names are not compared
    below the root; integers only refuse old-style bitfield ints)."""
    if depth < 0:
        raise BTFError("types nest more than 32 deep")
    if not kinds_compatible(local[local_id], target[target_id]):
        return False
    while depth >= 0:
        depth -= 1
        local_id, lt = skip_modifiers(local, local_id)
        target_id, tt = skip_modifiers(target, target_id)
        if not kinds_compatible(lt, tt):
            return False
        if lt.kind in (Kind.VOID, *_COMPOSITES, *_ENUMS, Kind.FWD):
            return True
        if lt.kind == Kind.INT:
            return lt.bit_offset == 0 and tt.bit_offset == 0
        if lt.kind == Kind.PTR:
            local_id, target_id = lt.ref, tt.ref
        elif lt.kind == Kind.ARRAY:
            local_id, target_id = lt.element, tt.element
        elif lt.kind == Kind.FUNC_PROTO:
            if len(lt.members) != len(tt.members):
                return False
            for lp, tp in zip(lt.members, tt.members):
                if not types_compatible(local, skip_modifiers(local, lp.type)[0], target,
                                        skip_modifiers(target, tp.type)[0], depth - 1):
                    return False
            local_id, target_id = lt.ref, tt.ref
        else:
            return False
    raise BTFError("types nest more than 32 deep")


def types_match(local: BTF, local_id: int, target: BTF, target_id: int, behind_pointer: bool = False,
                depth: int = 32) -> bool:
    """``bpf_core_type_matches()``: stricter than compatibility — names, integer sizes
    and signedness, enumerator names and struct members (by name, with matching types)
    must agree; behind a pointer a struct or enum of the same name is enough."""
    if depth < 0:
        raise BTFError("types nest more than 32 deep")
    local_id, lt = skip_modifiers(local, local_id)
    target_id, tt = skip_modifiers(target, target_id)
    if not _names_match(lt, tt):
        return False
    if lt.kind == Kind.FWD or tt.kind == Kind.FWD:
        if lt.kind == Kind.FWD and tt.kind == Kind.FWD:
            return lt.kind_flag == tt.kind_flag
        other, fwd = (tt, lt) if lt.kind == Kind.FWD else (lt, tt)
        return other.kind == (Kind.UNION if fwd.kind_flag else Kind.STRUCT)
    if not kinds_compatible(lt, tt):
        return False
    if lt.kind in (Kind.VOID, Kind.FLOAT):
        return True
    if lt.kind in _ENUMS:
        if behind_pointer:
            return True
        names = {essential_name(m.name) for m in tt.members}
        return lt.size == tt.size and all(essential_name(m.name) in names for m in lt.members)
    if lt.kind in _COMPOSITES:
        if behind_pointer:
            return True
        by_name = {m.name: m for m in tt.members}
        for member in lt.members:
            counterpart = by_name.get(member.name)
            if counterpart is None or counterpart.bit_size != member.bit_size or not types_match(
                    local, member.type, target, counterpart.type, False, depth - 1):
                return False
        return True
    if lt.kind == Kind.INT:
        return lt.size == tt.size and bool(lt.encoding & 1) == bool(tt.encoding & 1)
    if lt.kind == Kind.PTR:
        return types_match(local, lt.ref, target, tt.ref, True, depth - 1)
    if lt.kind == Kind.ARRAY:
        return lt.nelems == tt.nelems and types_match(local, lt.element, target, tt.element, behind_pointer,
                                                      depth - 1)
    if lt.kind == Kind.FUNC_PROTO:
        return len(lt.members) == len(tt.members) and all(
            types_match(local, a.type, target, b.type, behind_pointer, depth - 1)
            for a, b in zip(lt.members, tt.members)) and types_match(local, lt.ref, target, tt.ref,
                                                                     behind_pointer, depth - 1)
    return False


def match_enum_spec(local: Spec, target: BTF, target_id: int) -> Spec | None:
    """The target enumerator with the local one's (essential) name, or None."""
    type_id, t = skip_modifiers(target, target_id)
    if t.kind not in _ENUMS:
        return None
    wanted = essential_name(local.accesses[0].name)
    for index, member in enumerate(t.members):
        if essential_name(member.name) == wanted:
            return Spec(target, target_id, [Access(type_id, index, member.name)], [index])
    return None
