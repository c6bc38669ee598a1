"""Struct and union definitions written in the program itself (``struct Foo { int a;
char b[10]; };``), laid out as a C compiler for x86-64 lays them out, for types the
kernel's BTF does not describe (user-space structs behind uprobe arguments)."""

from __future__ import annotations

import re
from collections.abc import Callable

from pybpf.trace.errors import DefinitionError, TraceSyntaxError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

_SCALARS = {
    "char": (1, True), "signed char": (1, True), "unsigned char": (1, False), "bool": (1, False), "_Bool": (1, False),
    "short": (2, True), "unsigned short": (2, False), "int": (4, True), "unsigned int": (4, False),
    "unsigned": (4, False), "signed": (4, True), "long": (8, True), "unsigned long": (8, False),
    "long long": (8, True), "unsigned long long": (8, False), "long int": (8, True), "unsigned long int": (8, False),
    "int8_t": (1, True), "uint8_t": (1, False), "int16_t": (2, True), "uint16_t": (2, False),
    "int32_t": (4, True), "uint32_t": (4, False), "int64_t": (8, True), "uint64_t": (8, False),
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
    "s8": (1, True), "s16": (2, True), "s32": (4, True), "s64": (8, True),
    "__u8": (1, False), "__u16": (2, False), "__u32": (4, False), "__u64": (8, False),
    "__s8": (1, True), "__s16": (2, True), "__s32": (4, True), "__s64": (8, True),
    "size_t": (8, False), "pid_t": (4, True), "float": (4, True), "double": (8, True),
}
_STRUCT = re.compile(r"^\s*(struct|union)\s+(\w+)\s*\{(.*)\}\s*[^{}]*;?\s*$", re.DOTALL)
_MEMBER = re.compile(r"^(?P<type>.*?)(?P<stars>[\s*]*)\b(?P<name>\w+)\s*(?P<dims>(?:\[\s*\d*\s*\]\s*)*)(?::\s*(?P<bits>\d+))?$", re.DOTALL)


@dataclass
class CType:
    """A type of a user definition: scalar, pointer, array or struct/union."""

    kind: str                     #: int, ptr, array, record
    size: int
    align: int
    signed: bool = False
    element: CType | None = None   #: array element, pointer target (None: void or unknown)
    count: int = 0
    name: str = ""
    #: (name, byte offset, type, bit offset in the byte, bit width; 0 for whole members)
    members: list[tuple[str, int, CType, int, int]] = field(default_factory=list)
    pointee_name: str = ""        #: a pointer's target as written (for BTF types)
    btf: int = 0                  #: a kernel struct/union (its BTF id) used by value in a definition


def defined_names(texts: list[str]) -> set[str]:
    """The ``struct NAME``/``union NAME`` that ``texts`` define."""
    return {f"{m.group(1)} {m.group(2)}" for m in map(_STRUCT.match, texts) if m}


def parse_definitions(texts: list[str], kernel: Callable[[str], CType | None] | None = None) -> dict[str, CType]:
    """``struct NAME`` → layout, for every struct/union definition in ``texts``;
    ``kernel`` gives the layout of a ``struct NAME`` they use but do not define (the
    kernel's, from BTF), None when there is none."""
    known: dict[str, CType] = {}
    if kernel is not None:
        defined = defined_names(texts)
        for used in sorted({" ".join(m.groups()) for m in re.finditer(r"\b(struct|union)\s+(\w+)", " ".join(texts))}
                           - defined):
            found = kernel(used)
            if found is not None:
                known[used] = found
    for text in texts:
        match = _STRUCT.match(text)
        if match:
            tag, name, body = match.groups()
            _record(tag, name, body, known)
    return {name: ctype for name, ctype in known.items() if not ctype.btf and not name.startswith("__nested")}


_NESTED = re.compile(r"^(struct|union)\s*(\w*)\s*\{(.*)\}(.*)$", re.DOTALL)


def _record(tag: str, name: str, body: str, known: dict[str, CType]) -> CType:
    """The layout of ``tag name { body }``, registered in ``known`` when named (nested
    definitions, ``struct { int m; } y;``, are laid out in place)."""
    record = CType("record", 0, 1, name=f"{tag} {name}".strip())
    if name:
        known[f"{tag} {name}"] = record   # self-references through pointers
    offset = 0
    bit_end = 0  # the bit just after the last bitfield, while bitfields pack
    for declaration in _split(body):
        nested = _NESTED.match(declaration)
        if nested:  # an inner definition: its type under a name no program can write
            inner = _record(nested.group(1), nested.group(2), nested.group(3), known)
            placeholder = f"__nested{len(known)}_{id(inner)}"
            known[placeholder] = inner
            declaration = f"{placeholder} {nested.group(4).strip()}"
        member = _MEMBER.match(declaration)
        if not member:
            raise TraceSyntaxError(f"cannot read the member declaration '{declaration}' of {record.name}")
        try:
            ctype = _type(member.group("type").strip(), member.group("stars").count("*"), known)
        except DefinitionError as exc:
            raise DefinitionError(exc.reason, declaration) from None
        for dim in reversed(re.findall(r"\[\s*(\d*)\s*\]", member.group("dims"))):
            count = int(dim or 0)
            ctype = CType("array", ctype.size * count, ctype.align, element=ctype, count=count)
        bits = int(member.group("bits")) if member.group("bits") else 0
        if bits and tag == "struct":
            unit = 8 * ctype.size  # a bitfield does not straddle a unit of its type
            start = bit_end if bit_end else 8 * offset
            if start // unit != (start + bits - 1) // unit:
                start = (start + unit - 1) // unit * unit
            record.members.append((member.group("name"), start // 8, ctype, start % 8, bits))
            bit_end = start + bits
            offset = (bit_end + 7) // 8
        elif tag == "struct":
            bit_end = 0
            offset = (offset + ctype.align - 1) // ctype.align * ctype.align
            record.members.append((member.group("name"), offset, ctype, 0, 0))
            offset += ctype.size
        else:
            record.members.append((member.group("name"), 0, ctype, 0, bits))
            offset = max(offset, ctype.size)
        record.align = max(record.align, ctype.align)
    record.size = (offset + record.align - 1) // record.align * record.align
    return record


def _split(body: str) -> list[str]:
    """Member declarations, one per name (``int a, b`` is two), split at the ``;`` of
    this level (not those inside a nested definition's braces)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(body):
        depth += (c == "{") - (c == "}")
        if c == ";" and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    out = []
    for part in parts:
        part = " ".join(part.split())
        if not part:
            continue
        if "{" in part:
            out.append(part)
            continue
        first, *others = part.split(",")
        out.append(first)
        if others:
            type_text = re.match(r"^(.*?)[\s*]*\b\w+\s*(?:\[.*\])?\s*(?::\s*\d+)?$", first).group(1)
            out.extend(f"{type_text} {other.strip()}" for other in others)
    return out


def _type(text: str, stars: int, known: dict[str, CType]) -> CType:
    text = re.sub(r"\b(const|volatile|restrict)\b", "", text).strip()
    text = " ".join(text.split())
    if stars:
        target = None if text == "void" else _lookup(text, known)
        return CType("ptr", 8, 8, element=target, pointee_name=text)
    found = _lookup(text, known)
    if found is None and re.match(r"(struct|union)\b", text):  # by value: the compiler needs its layout
        raise DefinitionError(f"field has incomplete type '{text}'")
    return found or CType("int", 8, 8)


def _lookup(text: str, known: dict[str, CType]) -> CType | None:
    if text in _SCALARS:
        size, signed = _SCALARS[text]
        return CType("int", size, size, signed, name=text)
    return known.get(text)
