"""Kernel types for the trace language, from the running kernel's BTF
(/sys/kernel/btf/vmlinux): casts such as ``(struct task_struct *)curtask``, member
access through ``->`` and ``.``, ``sizeof``/``offsetof`` and enum constants
(``TASK_RUNNING``-style names that are enum values). Read on first use only: programs
that touch no kernel type never pay for parsing BTF."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pybpf.trace.types import T

_STRUCT = re.compile(r"^(?:const\s+|volatile\s+)*(struct|union|enum)?\s*(\w+)\s*(\**)$")


@dataclass(frozen=True)
class MemberAccess:
    """Where a member lives: byte offset, bitfield shape, and its trace type."""

    offset: int
    bit_offset: int
    bit_size: int
    type: T


class KernelTypes:
    """Lookups in one BTF."""

    def __init__(self, btf: object = None):
        self._btf = btf
        self._enums: dict[str, int] | None = None

    @property
    def btf(self):  # noqa: ANN201 - pybpf.btf.BTF, imported lazily
        if self._btf is None:
            from pybpf.btf import BTF
            self._btf = BTF.load()
        return self._btf

    def named(self, ctype: str) -> T | None:
        """The trace type of a C type name (``struct task_struct *``), None when unknown."""
        from pybpf.btf import Kind

        match = _STRUCT.match(ctype.strip())
        if not match:
            return None
        tag, name, stars = match.groups()
        kinds = {"struct": (Kind.STRUCT,), "union": (Kind.UNION,), "enum": (Kind.ENUM, Kind.ENUM64),
                 None: (Kind.TYPEDEF, Kind.STRUCT, Kind.UNION, Kind.INT, Kind.ENUM)}[tag]
        found = next((t for t in (self.btf[i] for i in self.btf.type_ids(name)) if t.kind in kinds), None)
        if found is None:
            return None
        c_name = f"{tag} {name}" if tag else name
        if stars:
            return T("ptr", 8, btf=found.id, name=c_name)
        return self.of(found.id)

    def of(self, type_id: int) -> T:
        """The trace type of BTF type ``type_id``."""
        from pybpf.btf import Kind

        t = self.btf.resolve(type_id)
        if t.kind == Kind.INT:
            return T("int", t.size, bool(t.encoding & 1) or (t.encoding & 2 and t.size == 1), name=t.name)
        if t.kind in (Kind.ENUM, Kind.ENUM64):
            return T("int", t.size, t.kind_flag, name=t.name)
        if t.kind == Kind.PTR:
            pointee = self.btf.resolve(t.ref) if t.ref else None
            name = "" if pointee is None else (f"{pointee.kind.name.lower()} {pointee.name}"
                                               if pointee.kind in (Kind.STRUCT, Kind.UNION) else pointee.name)
            return T("ptr", 8, btf=t.ref, name=name)
        if t.kind in (Kind.STRUCT, Kind.UNION):
            return T("record", t.size, btf=t.id, name=f"{t.kind.name.lower()} {t.name}".strip())
        if t.kind == Kind.ARRAY:
            element = self.btf.resolve(t.element)
            if element.kind == Kind.INT and element.size == 1:
                return T("str", t.nelems)
            return T("array", self.btf.sizeof(t.id), btf=t.id, name=f"{element.name}[{t.nelems}]")
        return T("int", 8, False)

    def member(self, record: T, name: str) -> MemberAccess | None:
        """Member ``name`` of a struct/union (looking inside anonymous members)."""
        found = self._find(record.btf, name, 0)
        if found is None:
            return None
        bit_offset, member = found
        return MemberAccess(bit_offset // 8, bit_offset % 8, member.bit_size, self.of(member.type))

    def _find(self, type_id: int, name: str, base: int):  # noqa: ANN202
        from pybpf.btf import Kind

        t = self.btf.resolve(type_id)
        if t.kind not in (Kind.STRUCT, Kind.UNION):
            return None
        for m in t.members:
            if m.name == name:
                return base + m.offset, m
        for m in t.members:
            if not m.name:
                inner = self._find(m.type, name, base + m.offset)
                if inner is not None:
                    return inner
        return None

    def element(self, t: T) -> T:
        """What a pointer points to, or an array holds."""
        if t.kind == "ptr":
            return self.of(t.btf) if t.btf else T("int", 1, False)
        return self.of(self.btf.resolve(t.btf).element)

    def sizeof(self, t: T) -> int:
        return self.btf.sizeof(t.btf) if t.kind in ("record", "array") else t.size

    def enum_value(self, name: str) -> int | None:
        """The value of enumerator ``name`` in any kernel enum (all enums read once)."""
        if self._enums is None:
            from pybpf.btf import Kind
            enums: dict[str, int] = {}
            btf = self.btf
            for type_id in range(1, len(btf)):
                t = btf[type_id]
                if t.kind in (Kind.ENUM, Kind.ENUM64):
                    for m in t.members:
                        enums.setdefault(m.name, m.value)
            self._enums = enums
        return self._enums.get(name)
