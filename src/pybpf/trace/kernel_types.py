"""Kernel types for the trace language, from the running kernel's BTF
(/sys/kernel/btf/vmlinux): casts such as ``(struct task_struct *)curtask``, member
access through ``->`` and ``.``, ``sizeof``/``offsetof`` and enum constants
(``TASK_RUNNING``-style names that are enum values). Read on first use only: programs
that touch no kernel type never pay for parsing BTF."""

from __future__ import annotations

import re

from pybpf.trace.types import T

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: a C type name (matched through re's cache: compiled for the programs that name one)
_STRUCT = r"^(?:const\s+|volatile\s+)*(struct|union|enum)?\s*(\w+)\s*(\**)$"


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
        self.user: dict[str, object] = {}      #: the program's own struct definitions by name
        self._user_ids: dict[int, object] = {}  #: negative ids for them (and their parts)

    def define(self, texts: list[str], kernel_names: set[str] | None = None) -> None:
        """Add the program's ``struct x { ... }`` definitions (they win over BTF's).

        ``kernel_names`` are the kernel types the program uses (``struct task_struct``
        for ``curtask``, those it casts to). Where the program redefines one of them,
        bpftrace takes no type at all from BTF (its clang would see the kernel's
        definition and the program's twice), so the definitions must then be complete
        in themselves; otherwise a struct they hold by value but do not define is the
        kernel's. (Without definitions the C parser is not imported.)"""
        if not texts:
            return
        from pybpf.trace.c_types import defined_names, parse_definitions

        redefined = any(self._kernel_record(name) is not None for name in defined_names(texts) & (kernel_names or set()))
        self.user.update(parse_definitions(texts, None if redefined else self._kernel_record))

    def _kernel_record(self, c_name: str) -> Any:
        """A kernel struct/union a definition holds by value: its size and alignment
        (members read through BTF), None when BTF has no such type."""
        from pybpf.btf import Kind
        from pybpf.trace.c_types import CType

        tag, name = c_name.split()
        kinds = (Kind.STRUCT,) if tag == "struct" else (Kind.UNION,)
        found = next((t for t in (self.btf[i] for i in self.btf.type_ids(name)) if t.kind in kinds), None)
        if found is None:
            return None
        return CType("record", found.size, self._alignment(found.id), name=c_name, btf=found.id)

    def pointer_to_scalar(self, size: int, signed: bool, stars: int = 1) -> T:
        """``(int32 *)``, ``(uint8 **)``: pointers to integers (or to such pointers)."""
        from pybpf.trace.c_types import CType
        target = CType("int", size, size, signed)
        for _ in range(stars - 1):
            target = CType("ptr", 8, 8, element=target)
        return T("ptr", 8, btf=self._user_id(target), name=f"int{size * 8}")

    def _user_id(self, ctype: object) -> int:
        for key, value in self._user_ids.items():
            if value is ctype:
                return key
        key = -1 - len(self._user_ids)
        self._user_ids[key] = ctype
        return key

    def _of_user(self, ctype) -> T:
        if ctype.btf:
            return self.of(ctype.btf)
        if ctype.kind == "int":
            return T("int", ctype.size, ctype.signed)
        if ctype.kind == "ptr":
            if ctype.element is not None:
                return T("ptr", 8, btf=self._user_id(ctype.element), name=ctype.pointee_name)
            found = self.named(ctype.pointee_name + " *") if ctype.pointee_name not in ("", "void") else None
            return found or T("ptr", 8, btf=0, name=ctype.pointee_name)
        if ctype.kind == "array":
            if ctype.element.kind == "int" and ctype.element.name == "char":  # as bpftrace: only char[N] is a string
                return T("str", ctype.count)
            return T("array", ctype.size, btf=self._user_id(ctype), name=f"array[{ctype.count}]", align=ctype.align)
        return T("record", ctype.size, btf=self._user_id(ctype), name=ctype.name)

    @property
    def btf(self):
        if self._btf is None:
            from pybpf.btf import BTF
            self._btf = BTF.load()
        return self._btf

    def named(self, ctype: str) -> T | None:
        """The trace type of a C type name (``struct task_struct *``), None when unknown."""
        from pybpf.btf import Kind

        match = re.match(_STRUCT, re.sub(r"\*\s+(?=\*)", "*", ctype.strip()))  # "struct foo * *"
        if not match:
            return None
        tag, name, stars = match.groups()
        if len(stars) > 1:  # a pointer to pointers: described as a user pointer type
            from pybpf.trace.c_types import CType
            c_name = f"{tag} {name}" if tag else name
            user_type: Any = self.user.get(c_name)
            target = CType("ptr", 8, 8, element=user_type, pointee_name=c_name)
            for _ in range(len(stars) - 2):
                target = CType("ptr", 8, 8, element=target)
            if user_type is None and self.named(c_name + " *") is None:
                return None
            return T("ptr", 8, btf=self._user_id(target), name=c_name + " " + "*" * (len(stars) - 1))
        user = self.user.get(f"{tag} {name}")
        if user is not None:
            return T("ptr", 8, btf=self._user_id(user), name=f"{tag} {name}") if stars else self._of_user(user)
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

        if type_id < 0:
            return self._of_user(self._user_ids[type_id])
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
            return T("array", self.btf.sizeof(t.id), btf=t.id, name=f"{element.name}[{t.nelems}]",
                     align=self._alignment(t.id))
        return T("int", 8, False)

    def _alignment(self, type_id: int) -> int:
        """A BTF type's C alignment: its largest scalar member's size (at most 8)."""
        from pybpf.btf import Kind

        t = self.btf.resolve(type_id)
        if t.kind in (Kind.STRUCT, Kind.UNION):
            return max((self._alignment(m.type) for m in t.members), default=1)
        if t.kind == Kind.ARRAY:
            return self._alignment(t.element)
        return min(8, max(1, t.size if t.kind != Kind.PTR else 8))

    def member(self, record: T, name: str) -> MemberAccess | None:
        """Member ``name`` of a struct/union (looking inside anonymous members)."""
        if record.btf < 0:
            for member_name, offset, ctype, bit_offset, bits in self._user_ids[record.btf].members:
                if member_name == name:
                    return MemberAccess(offset, bit_offset, bits, self._of_user(ctype))
            return None
        found = self._find(record.btf, name, 0)
        if found is None:
            return None
        bit_offset, member = found
        return MemberAccess(bit_offset // 8, bit_offset % 8, member.bit_size, self.of(member.type))

    def members(self, record: T) -> list[tuple[str, MemberAccess]]:
        """Every named member of a struct/union, in order (anonymous members' flattened)."""
        if record.btf < 0:
            return [(name, MemberAccess(offset, bit_offset, bits, self._of_user(ctype)))
                    for name, offset, ctype, bit_offset, bits in self._user_ids[record.btf].members]
        out: list[tuple[str, MemberAccess]] = []

        def walk(type_id: int, base: int) -> None:
            for m in self.btf.resolve(type_id).members:
                if m.name:
                    bits = base + m.offset
                    out.append((m.name, MemberAccess(bits // 8, bits % 8, m.bit_size, self.of(m.type))))
                else:
                    walk(m.type, base + m.offset)
        walk(record.btf, 0)
        return out

    def _find(self, type_id: int, name: str, base: int):
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
        if t.btf < 0:
            return self._of_user(self._user_ids[t.btf].element)
        return self.of(self.btf.resolve(t.btf).element)

    def sizeof(self, t: T) -> int:
        if t.kind in ("record", "array"):
            return self._user_ids[t.btf].size if t.btf < 0 else self.btf.sizeof(t.btf)
        return t.size

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
