"""BTF type records: one small immutable value per kind, as the kernel's btf.h lays
them out (names resolved from the string section)."""

from __future__ import annotations

import enum

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field


class Kind(enum.IntEnum):
    """BTF_KIND_*."""

    VOID = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


@dataclass(frozen=True)
class Member:
    """A struct/union member (``bit_size`` is non-zero for bitfields), a function
    parameter (``offset`` 0), an enum value (``value``), or a DATASEC variable
    (``type`` the VAR, ``offset``/``size`` in bytes)."""

    name: str
    type: int = 0
    offset: int = 0
    bit_size: int = 0
    value: int = 0
    size: int = 0


@dataclass(frozen=True)
class Type:
    """One BTF type. ``size`` for sized kinds, ``ref`` the referenced type id for
    PTR/TYPEDEF/modifiers/FUNC/VAR/DECL_TAG (and the return type of a FUNC_PROTO)."""

    id: int
    kind: Kind
    name: str = ""
    size: int = 0
    ref: int = 0
    members: tuple[Member, ...] = field(default_factory=tuple)
    # kind-specific
    encoding: int = 0          # INT: 1 signed, 2 char, 4 bool
    bits: int = 0              # INT: value bits
    bit_offset: int = 0        # INT
    element: int = 0           # ARRAY element type
    index_type: int = 0        # ARRAY index type
    nelems: int = 0            # ARRAY
    linkage: int = 0           # FUNC, VAR
    kind_flag: bool = False    # STRUCT/UNION bitfield layout, FWD union, ENUM signedness
    component: int = -1        # DECL_TAG component index
