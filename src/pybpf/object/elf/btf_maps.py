"""Map definitions written the libbpf way — a struct whose members encode the map's
attributes in their types — read back into :class:`MapSpec` values.

``__uint(name, N)`` declares ``int (*name)[N]``: a pointer to an array of N elements, so
the number is the array's length. ``__type(name, T)`` declares ``T *name``: the pointee's
size is the key or value size. ``__array(values, struct inner)`` declares the template of
the maps a map of maps holds.
"""

from __future__ import annotations

from pybpf.btf.errors import BTFError
from pybpf.btf.types import Kind
from pybpf.object.kinds import MapType
from pybpf.object.maps import MapSpec, Pinning

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.btf import BTF

_NUMBERS = {"type", "max_entries", "map_flags", "key_size", "value_size", "numa_node", "map_extra", "pinning"}


def _number(btf: BTF, member_type: int, name: str) -> int:
    pointer = btf.resolve(member_type)
    if pointer.kind != Kind.PTR:
        raise BTFError(f"member {name!r} is not declared with __uint() (a pointer to an array)")
    array = btf.resolve(pointer.ref)
    if array.kind != Kind.ARRAY:
        raise BTFError(f"member {name!r} does not point to an array, so it encodes no number")
    return array.nelems


def _pointee_size(btf: BTF, member_type: int, name: str) -> int:
    pointer = btf.resolve(member_type)
    if pointer.kind != Kind.PTR:
        raise BTFError(f"member {name!r} is not declared with __type() (a pointer to the type)")
    return btf.sizeof(pointer.ref)


def map_spec_from_btf(btf: BTF, name: str, struct_id: int, inner_of: str = "") -> MapSpec:
    """The MapSpec a BTF map-definition struct describes (``inner_of``: the map of maps
    whose ``values`` it is — an inner map cannot hold maps itself)."""
    definition = btf.resolve(struct_id)
    if definition.kind != Kind.STRUCT:
        raise BTFError(f"is a {definition.kind.name.lower()}, not a struct of __uint/__type members")
    values: dict[str, int] = {}
    type_ids: dict[str, int] = {}
    inner: MapSpec | None = None
    for member in definition.members:
        if member.name in _NUMBERS:
            values[member.name] = _number(btf, member.type, member.name)
        elif member.name in ("key", "value"):
            values[f"{member.name}_size"] = _pointee_size(btf, member.type, member.name)
            type_ids[member.name] = btf.resolve(member.type).ref
        elif member.name == "values":
            array = btf.resolve(member.type)
            pointee = btf.resolve(btf.resolve(array.element).ref) if array.kind == Kind.ARRAY else None
            if pointee is not None and pointee.kind == Kind.STRUCT:
                if inner_of:
                    raise BTFError(f"is the inner map of {inner_of!r} and has inner maps of its own "
                                   "(maps of maps nest one level)")
                inner = map_spec_from_btf(btf, f"{name}.inner", pointee.id, inner_of=name)
        else:
            raise BTFError(f"unknown map attribute {member.name!r}")
    if "type" not in values:
        raise BTFError("no __uint(type, ...) member")
    try:
        kind = MapType(values["type"])
    except ValueError:
        raise BTFError(f"unknown map type {values['type']}") from None
    if kind in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY,
                MapType.PERF_EVENT_ARRAY) and "value_size" not in values:
        values["value_size"] = 4
    if kind in (MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS,
                MapType.PERF_EVENT_ARRAY) and "key_size" not in values:
        values["key_size"] = 4
    if kind == MapType.HASH_OF_MAPS and "key_size" not in values:
        values["key_size"] = 4
    return MapSpec(
        name[:15], kind, values.get("key_size", 0), values.get("value_size", 0), values.get("max_entries", 0),
        flags=values.get("map_flags", 0), extra=values.get("map_extra", 0), inner=inner,
        pinning=Pinning.BY_NAME if values.get("pinning") == 1 else Pinning.NONE,
        numa_node=values.get("numa_node"), btf_key_type_id=type_ids.get("key", 0),
        btf_value_type_id=type_ids.get("value", 0),
    )
