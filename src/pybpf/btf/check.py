"""Structural checks a BTF must pass before anything walks it type by type.

A blob whose ids are all in range can still describe a type that contains itself
(``typedef a t; typedef t a;``, an array of itself, a struct holding itself by value).
The kernel refuses such BTF; a recursive walk over it never ends. :func:`check_acyclic`
finds every such cycle with an explicit stack (no recursion, whatever the depth), so
dumpers and loaders can refuse the blob in one line naming a type id first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.types import Kind, Type

_REF_KINDS = frozenset((Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG, Kind.VAR,
                        Kind.FUNC, Kind.DECL_TAG))
_MEMBER_KINDS = frozenset((Kind.STRUCT, Kind.UNION, Kind.DATASEC))


def contained(t: Type) -> Iterator[int]:
    """The ids ``t`` needs complete (by value): everything it refers to except through a pointer."""
    kind = t.kind
    if kind in _REF_KINDS:
        yield t.ref
    elif kind == Kind.ARRAY:
        yield t.element
    elif kind in _MEMBER_KINDS:
        for m in t.members:
            yield m.type
    elif kind == Kind.FUNC_PROTO:
        yield t.ref
        for p in t.members:
            yield p.type


def check_acyclic(btf: BTF, roots: Iterable[int] | None = None) -> None:
    """Raise :class:`BTFError` naming a type that contains itself, reached from ``roots``
    (every type by default). Pointers break cycles, as in C."""
    count = len(btf)
    state = bytearray(count)       # 0 unseen, 1 on the current path, 2 finished
    for root in range(1, count) if roots is None else roots:
        first = btf[root]          # an id out of range is refused here
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, contained(first))]
        while stack:
            type_id, children = stack[-1]
            for child in children:
                if state[child] == 1:
                    t = btf[child]
                    via = "" if child == type_id else f" (through type {type_id})"
                    raise BTFError(f"type {child} ({t.kind.name} {t.name or '(anon)'}) contains itself{via}: "
                                   "malformed BTF")
                if state[child] == 0:
                    state[child] = 1
                    stack.append((child, contained(btf[child])))
                    break
            else:
                state[type_id] = 2
                stack.pop()
