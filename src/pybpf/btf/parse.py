"""Parsing BTF blobs (``/sys/kernel/btf/vmlinux``, an object's ``.BTF`` section) into
:class:`Type` records, with the checks that make malformed input an error naming the
byte offset instead of a crash."""

from __future__ import annotations

import os
import struct

from pybpf.btf import table
from pybpf.btf.errors import BTFError  # noqa: F401 (also read from here)
from pybpf.btf.table import TypeTable
from pybpf.btf.types import Kind, Member, Type

MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")


class BTF:
    """Parsed BTF: types by id (id 0 is void) and lookup helpers.

    ``BTF(types, strings)`` holds a list of :class:`Type` as given. :meth:`parse` keeps
    the blob's type section and decodes each type when it is first asked for
    (``btf[id]``, :meth:`find`, :meth:`resolve`, ...); :attr:`types` decodes them all.
    """

    def __init__(self, types: list[Type], strings: bytes):
        self._types: list[Type] | None = types
        self._table: TypeTable | None = None
        self._count = len(types)
        self.strings = strings
        self._by_name: dict[str, tuple[int, ...]] | None = _names_of(types)

    @classmethod
    def _from_table(cls, table: TypeTable) -> BTF:
        btf = cls.__new__(cls)
        btf._types, btf._table, btf._count, btf.strings, btf._by_name = None, table, table.count, table.strings, None
        return btf

    @property
    def types(self) -> list[Type]:
        """Every type, by id (decoded now if they were not yet)."""
        if self._types is None:
            assert self._table is not None
            self._types = self._table.all()
        return self._types

    @types.setter
    def types(self, types: list[Type]) -> None:
        self._types, self._table, self._count, self._by_name = types, None, len(types), _names_of(types)

    @classmethod
    def parse(cls, data: bytes) -> BTF:
        """Parse a BTF blob."""
        return _parse(bytes(data))

    @classmethod
    def load(cls, path: str | os.PathLike[str] = "/sys/kernel/btf/vmlinux") -> BTF:
        """Parse the BTF file at ``path`` (the running kernel's by default)."""
        try:
            with open(path, "rb") as file:
                return cls.parse(file.read())
        except OSError as exc:
            raise BTFError(f"{path}: cannot read: {exc.strerror}") from None

    def __getitem__(self, type_id: int) -> Type:
        if not 0 <= type_id < self._count:
            raise BTFError(f"type id {type_id} is out of range (0-{self._count - 1})")
        if self._types is not None:
            return self._types[type_id]
        assert self._table is not None
        return self._table.get(type_id)

    def __len__(self) -> int:
        return self._count

    def __reduce__(self) -> tuple:
        # a lazily read blob pickles as its bytes (a memoryview of them cannot be pickled)
        if self._table is not None:
            return (_parse, (self._table.data,))
        return (BTF, (self._types, self.strings))

    def type_ids(self, name: str) -> tuple[int, ...]:
        """The ids (ascending) of every type called ``name``."""
        if self._by_name is not None:
            return self._by_name.get(name, ())
        assert self._table is not None
        return self._table.ids_named(name)

    def names_with_prefix(self, prefix: str) -> list[str]:
        """The distinct type names that start with ``prefix`` (a non-empty one), sorted."""
        if self._by_name is not None:
            return sorted(name for name in self._by_name if prefix and name.startswith(prefix))
        assert self._table is not None
        return self._table.names_with_prefix(prefix)

    def find(self, name: str, kind: Kind | None = None) -> Type | None:
        """The first type called ``name`` (of ``kind``), or None."""
        for type_id in self.type_ids(name):
            t = self[type_id]
            if kind is None or t.kind == kind:
                return t
        return None

    def resolve(self, type_id: int) -> Type:
        """The type behind typedefs and modifiers (const, volatile, restrict, type tags)."""
        seen = 0
        t = self[type_id]
        while t.kind in _MODIFIERS:
            t = self[t.ref]
            seen += 1
            if seen > self._count:
                raise BTFError(f"type {type_id} refers to itself through typedefs/modifiers: malformed BTF")
        return t

    def sizeof(self, type_id: int) -> int:
        """The size in bytes of a type (arrays multiplied out along their element chain,
        which is walked without recursion and refused when it comes back on itself)."""
        factor, current = 1, type_id
        for _ in range(self._count + 1):
            t = self.resolve(current)
            if t.kind in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT, Kind.DATASEC):
                return factor * t.size
            if t.kind == Kind.PTR:
                return factor * 8
            if t.kind == Kind.ARRAY:
                factor *= t.nelems
                current = t.element
            elif t.kind == Kind.VAR:
                current = t.ref
            else:
                raise BTFError(f"type {type_id} ({t.kind.name}) has no size")
        raise BTFError(f"type {type_id} contains itself through arrays/variables: malformed BTF")

    def member(self, struct_id: int, name: str) -> Member:
        """Member ``name`` of a struct/union; the error lists the members."""
        t = self.resolve(struct_id)
        for m in t.members:
            if m.name == name:
                return m
        names = ", ".join(m.name for m in t.members)
        raise BTFError(f"{t.kind.name.lower()} {t.name or '(anonymous)'} has no member {name!r} ({names})")


_MODIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)


def _names_of(types: list[Type]) -> dict[str, tuple[int, ...]]:
    by_name: dict[str, list[int]] = {}
    for t in types:
        if t.name:
            by_name.setdefault(t.name, []).append(t.id)
    return {name: tuple(ids) for name, ids in by_name.items()}


def _header(data: bytes) -> tuple[int, int, int, int]:
    """(type section start, end, string section start, end) after the header checks."""
    if len(data) < _HEADER.size:
        raise BTFError(f"byte 0: {len(data)} bytes is shorter than the BTF header ({_HEADER.size})")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BTFError(f"byte 0: bad magic 0x{magic:04x} (BTF starts with 0x{MAGIC:04x})")
    if version != 1:
        raise BTFError(f"byte 2: unsupported BTF version {version}")
    base = hdr_len
    for what, off, length in (("type", type_off, type_len), ("string", str_off, str_len)):
        if base + off + length > len(data):
            raise BTFError(f"byte {base + off}: the {what} section ({length} bytes) runs past the end "
                           f"of the data ({len(data)} bytes)")
    return base + type_off, base + type_off + type_len, base + str_off, base + str_off + str_len


def _parse(data: bytes) -> BTF:
    """The blob's types, decoded lazily: the records are found and checked (or, for a
    large blob parsed before, found in the cache), and anything malformed is handed to
    :func:`parse_eager` for the error that names it."""
    type_start, type_end, str_start, str_end = _header(data)
    if (type_end - type_start) % 4:
        return parse_eager(data)
    strings = data[str_start:str_end]
    words = table.words_of(data, type_start, type_end)
    from pybpf.btf import cache  # the disk cache, with pathlib: a kernel's BTF, not an object's

    key = cache.blob_key(data) if cache.enabled(data) else None
    found = cache.load(key, len(data), len(words), len(strings)) if key else None
    if found is not None:
        offsets, index = found
    else:
        scanned = table.scan(words)
        if scanned is None or not table.validate(words, scanned, strings):
            return parse_eager(data)
        offsets, index = scanned, table.NameIndex.build(words, scanned, strings)
        if key:
            cache.store(key, len(data), len(words), len(strings), offsets, index)
    return BTF._from_table(table.TypeTable(data, words, offsets, strings, index))


def _name(strings: bytes, offset: int, where: int) -> str:
    if offset >= len(strings):
        raise BTFError(f"byte {where}: name offset {offset} is past the string section ({len(strings)} bytes)")
    end = strings.find(b"\0", offset)
    if end < 0:
        raise BTFError(f"byte {where}: the string at offset {offset} is not NUL-terminated")
    return strings[offset:end].decode("utf-8", "replace")


def parse_eager(data: bytes) -> BTF:
    """Every type built as its record is read, checking each: the reference for the lazy
    parser (:mod:`pybpf.btf.table`), and what names the place and the reason when a blob
    is malformed."""
    type_start, type_end, str_start, str_end = _header(data)
    strings = data[str_start:str_end]
    types = [Type(0, Kind.VOID)]
    pos, end = type_start, type_end
    while pos < end:
        if pos + 12 > end:
            raise BTFError(f"byte {pos}: truncated type record")
        name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
        where = pos
        pos += 12
        vlen, kind_number, kind_flag = info & 0xFFFF, (info >> 24) & 0x1F, bool(info >> 31)
        try:
            kind = Kind(kind_number)
        except ValueError:
            raise BTFError(f"byte {where}: unknown BTF kind {kind_number}") from None
        type_id = len(types)
        name = _name(strings, name_off, where)

        def need(count: int) -> None:
            if pos + count > end:  # noqa: B023 - called within the iteration that defines it
                raise BTFError(f"byte {pos}: type {type_id} ({kind.name}) needs {count} more bytes than the "  # noqa: B023
                               "type section holds")

        fields: dict = {"name": name, "kind_flag": kind_flag}
        if kind == Kind.INT:
            need(4)
            word = struct.unpack_from("<I", data, pos)[0]
            pos += 4
            fields.update(size=size_or_type, encoding=(word >> 24) & 0xF, bit_offset=(word >> 16) & 0xFF,
                          bits=word & 0xFF)
        elif kind == Kind.ARRAY:
            need(12)
            element, index_type, nelems = struct.unpack_from("<III", data, pos)
            pos += 12
            fields.update(element=element, index_type=index_type, nelems=nelems)
        elif kind in (Kind.STRUCT, Kind.UNION):
            need(12 * vlen)
            members = []
            for _ in range(vlen):
                m_name, m_type, m_off = struct.unpack_from("<III", data, pos)
                bit_size, bit_off = (m_off >> 24, m_off & 0xFFFFFF) if kind_flag else (0, m_off)
                members.append(Member(_name(strings, m_name, pos), m_type, bit_off, bit_size))
                pos += 12
            fields.update(size=size_or_type, members=tuple(members))
        elif kind == Kind.ENUM:
            need(8 * vlen)
            members = []
            for _ in range(vlen):
                m_name, value = struct.unpack_from("<Ii", data, pos)
                members.append(Member(_name(strings, m_name, pos), value=value))
                pos += 8
            fields.update(size=size_or_type, members=tuple(members))
        elif kind == Kind.ENUM64:
            need(12 * vlen)
            members = []
            for _ in range(vlen):
                m_name, lo, hi = struct.unpack_from("<III", data, pos)
                value = hi << 32 | lo
                if kind_flag and value >> 63:
                    value -= 1 << 64
                members.append(Member(_name(strings, m_name, pos), value=value))
                pos += 12
            fields.update(size=size_or_type, members=tuple(members))
        elif kind == Kind.FUNC_PROTO:
            need(8 * vlen)
            members = []
            for _ in range(vlen):
                m_name, m_type = struct.unpack_from("<II", data, pos)
                members.append(Member(_name(strings, m_name, pos), m_type))
                pos += 8
            fields.update(ref=size_or_type, members=tuple(members))
        elif kind == Kind.VAR:
            need(4)
            fields.update(ref=size_or_type, linkage=struct.unpack_from("<I", data, pos)[0])
            pos += 4
        elif kind == Kind.DATASEC:
            need(12 * vlen)
            members = []
            for _ in range(vlen):
                v_type, v_off, v_size = struct.unpack_from("<III", data, pos)
                members.append(Member("", v_type, v_off, size=v_size))
                pos += 12
            fields.update(size=size_or_type, members=tuple(members))
        elif kind == Kind.DECL_TAG:
            need(4)
            fields.update(ref=size_or_type, component=struct.unpack_from("<i", data, pos)[0])
            pos += 4
        elif kind == Kind.FLOAT:
            fields.update(size=size_or_type)
        elif kind == Kind.FUNC:
            fields.update(ref=size_or_type, linkage=vlen)
        else:  # PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
            fields.update(ref=size_or_type)
        types.append(Type(type_id, kind, **fields))
    count = len(types)
    for t in types:  # every reference must name a type that exists
        for ref in (t.ref, t.element, t.index_type, *(m.type for m in t.members)):
            if ref >= count:
                raise BTFError(f"type {t.id} ({t.kind.name} {t.name}) refers to type {ref}, but there are {count}")
    return BTF(types, strings)
