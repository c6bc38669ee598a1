"""The type section kept as it is in the blob and decoded one type at a time.

A kernel's BTF holds ~130,000 types; building a :class:`Type` for each takes over a
second in Python, and a CO-RE relocation needs a handful of them. :class:`TypeTable`
keeps the type section as 32-bit words, finds where each record starts in one pass
(:func:`scan`), and decodes a type the first time it is asked for. Names are found
without decoding any type: :class:`NameIndex` maps a name's offset in the string section
to the ids of the types that use it, and a name is looked up by searching the string
section for its bytes (every place it occurs, so names pointing into the middle of
another string are found too).

:func:`validate` makes the same checks the type-by-type parser
(:func:`pybpf.btf.parse.parse_eager`) makes, over the words, so that a blob it accepts
decodes without error; when it refuses one, the caller runs that parser for the message.
"""

from __future__ import annotations

import gc
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable

from pybpf.btf.types import Kind, Member, Type

_KINDS: tuple[Kind | None, ...] = tuple(Kind(k) if k in Kind._value2member_map_ else None for k in range(32))
_UNKNOWN = 1 << 40   # a record length no type section has: an unknown kind ends the scan as malformed
#: words each kind's record takes after the 3-word header: fixed, then per vlen entry
_FIXED_WORDS = [_UNKNOWN] * 32
_VLEN_WORDS = [0] * 32
for _kind in Kind:
    _FIXED_WORDS[_kind] = 3 + {Kind.INT: 1, Kind.ARRAY: 3, Kind.VAR: 1, Kind.DECL_TAG: 1}.get(_kind, 0)
    _VLEN_WORDS[_kind] = {Kind.STRUCT: 3, Kind.UNION: 3, Kind.ENUM: 2, Kind.ENUM64: 3, Kind.FUNC_PROTO: 2,
                          Kind.DATASEC: 3}.get(_kind, 0)
#: kinds whose third word is a type id (``Type.ref``), as the parser reads them
_REF_KINDS = frozenset(int(k) for k in (Kind.VOID, Kind.PTR, Kind.FWD, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST,
                                        Kind.RESTRICT, Kind.FUNC, Kind.FUNC_PROTO, Kind.VAR, Kind.DECL_TAG,
                                        Kind.TYPE_TAG))

_new = object.__new__


def words_of(data: bytes, start: int, end: int) -> memoryview | array:
    """The type section ``data[start:end]`` (a multiple of 4 bytes) as little-endian words."""
    if sys.byteorder == "little":
        return memoryview(data)[start:end].cast("I")
    words = array("I")
    words.frombytes(data[start:end])
    words.byteswap()
    return words


def scan(words: memoryview | array) -> array | None:
    """The word index of each type record, by type id (index 0, void, holds 0), or None
    when the records do not tile the section exactly (truncated, or an unknown kind)."""
    offsets = [0]
    append = offsets.append
    fixed, per = _FIXED_WORDS, _VLEN_WORDS
    pos, end = 0, len(words)
    try:
        while pos < end:
            append(pos)
            info = words[pos + 1]
            kind = (info >> 24) & 0x1F
            pos += fixed[kind] + per[kind] * (info & 0xFFFF)
    except IndexError:
        return None
    if pos != end:
        return None
    return array("I", offsets)


def validate(words: memoryview | array, offsets: array, strings: bytes) -> bool:
    """Whether every name offset lies inside the string section before a NUL and every
    type id a type refers to exists: the parser's checks, so False means it would refuse
    the blob (and should be run to say why)."""
    count = len(offsets)
    max_name = -1
    max_ref = 0
    refs = _REF_KINDS
    for type_id in range(1, count):
        pos = offsets[type_id]
        name = words[pos]
        if name > max_name:
            max_name = name
        info = words[pos + 1]
        kind = (info >> 24) & 0x1F
        if kind in refs:
            ref = words[pos + 2]
            if ref > max_ref:
                max_ref = ref
            if kind == 13 and info & 0xFFFF:       # FUNC_PROTO: (name, type) per parameter
                end = pos + 3 + 2 * (info & 0xFFFF)
                max_name = max(max_name, max(words[pos + 3:end:2]))
                max_ref = max(max_ref, max(words[pos + 4:end:2]))
        elif kind == 3:                             # ARRAY: element, index type
            max_ref = max(max_ref, words[pos + 3], words[pos + 4])
        elif info & 0xFFFF:
            vlen = info & 0xFFFF
            if kind == 4 or kind == 5:              # STRUCT/UNION: (name, type, offset)
                end = pos + 3 + 3 * vlen
                max_name = max(max_name, max(words[pos + 3:end:3]))
                max_ref = max(max_ref, max(words[pos + 4:end:3]))
            elif kind == 6:                         # ENUM: (name, value)
                max_name = max(max_name, max(words[pos + 3:pos + 3 + 2 * vlen:2]))
            elif kind == 19:                        # ENUM64: (name, lo, hi)
                max_name = max(max_name, max(words[pos + 3:pos + 3 + 3 * vlen:3]))
            elif kind == 15:                        # DATASEC: (type, offset, size)
                max_ref = max(max_ref, max(words[pos + 3:pos + 3 + 3 * vlen:3]))
    return max_name <= strings.rfind(b"\0") and max_ref < count


class NameIndex:
    """Type ids by the string offset of their name: ``keys`` (sorted offsets of non-empty
    names), ``ids[starts[i]:starts[i + 1]]`` the ids (ascending) of the types named at
    ``keys[i]``. Three flat arrays, so the persistent cache stores them as they are."""

    __slots__ = ("keys", "starts", "ids")

    def __init__(self, keys: array, starts: array, ids: array):
        self.keys, self.starts, self.ids = keys, starts, ids

    @classmethod
    def build(cls, words: memoryview | array, offsets: array, strings: bytes) -> NameIndex:
        by_offset: dict[int, list[int]] = {}
        get = by_offset.get
        for type_id in range(1, len(offsets)):
            name = words[offsets[type_id]]
            found = get(name)
            if found is None:
                by_offset[name] = [type_id]
            else:
                found.append(type_id)
        keys = sorted(name for name in by_offset if strings[name])   # empty names are never looked up
        starts, ids = array("I", [0]), array("I")
        for name in keys:
            ids.extend(by_offset[name])
            starts.append(len(ids))
        return cls(array("I", keys), starts, ids)

    def at(self, offset: int) -> array:
        """The ids of the types whose name starts at ``offset`` (empty if none)."""
        i = bisect_left(self.keys, offset)
        if i < len(self.keys) and self.keys[i] == offset:
            return self.ids[self.starts[i]:self.starts[i + 1]]
        return self.ids[:0]


class TypeTable:
    """The types of one blob, decoded on first use."""

    #: distinct names looked up by searching the string section before a name→ids
    #: dictionary of every name is built instead
    SEARCHES_BEFORE_DICT = 256

    def __init__(self, data: bytes, words: memoryview | array, offsets: array, strings: bytes, index: NameIndex):
        self.data = data
        self.words = words
        self.offsets = offsets
        self.strings = strings
        self.index = index
        self.count = len(offsets)
        self.decoded: list[Type | None] = [None] * self.count
        self.decoded[0] = Type(0, Kind.VOID)
        self._names: dict[int, str] = {}
        self._ids: dict[str, tuple[int, ...]] = {}
        self._by_name: dict[str, tuple[int, ...]] | None = None

    # -- names ------------------------------------------------------------------

    def name(self, offset: int) -> str:
        try:
            return self._names[offset]
        except KeyError:
            strings = self.strings
            name = self._names[offset] = strings[offset:strings.index(b"\0", offset)].decode("utf-8", "replace")
            return name

    def _decode_all_strings(self) -> None:
        """Decode every string that starts after a NUL (what names point at) in one pass."""
        names, position = self._names, 0
        for raw in self.strings.split(b"\0"):
            if position not in names:
                names[position] = raw.decode("utf-8", "replace")
            position += len(raw) + 1

    def _occurrences(self, pattern: bytes) -> Iterable[int]:
        find = self.strings.find
        at = find(pattern)
        while at >= 0:
            yield at
            at = find(pattern, at + 1)

    def ids_named(self, name: str) -> tuple[int, ...]:
        """Ids (ascending) of every type called ``name``."""
        found = self._ids.get(name)
        if found is not None:
            return found
        if self._by_name is not None:
            return self._by_name.get(name, ())
        if not name or "\0" in name:
            return ()
        if "\ufffd" in name or len(self._ids) >= self.SEARCHES_BEFORE_DICT:
            # a name that was not valid UTF-8 in the blob cannot be searched for by its
            # bytes; and after many look-ups one dictionary of all is cheaper
            return self.by_name().get(name, ())
        try:
            pattern = name.encode("utf-8") + b"\0"
        except UnicodeEncodeError:
            return ()
        ids: list[int] = []
        for at in self._occurrences(pattern):
            ids.extend(self.index.at(at))
        found = self._ids[name] = tuple(sorted(ids))
        return found

    def names_with_prefix(self, prefix: str) -> list[str]:
        """The distinct type names that start with ``prefix`` (non-empty), sorted."""
        if self._by_name is not None or "\ufffd" in prefix:
            return sorted(name for name in self.by_name() if name.startswith(prefix))
        try:
            pattern = prefix.encode("utf-8")
        except UnicodeEncodeError:
            return []
        if not pattern or b"\0" in pattern:
            return []
        return sorted({self.name(at) for at in self._occurrences(pattern) if len(self.index.at(at))})

    def by_name(self) -> dict[str, tuple[int, ...]]:
        """Every non-empty name with its type ids."""
        if self._by_name is None:
            by_name: dict[str, list[int]] = {}
            index = self.index
            for i, offset in enumerate(index.keys):
                by_name.setdefault(self.name(offset), []).extend(index.ids[index.starts[i]:index.starts[i + 1]])
            self._by_name = {name: tuple(sorted(ids)) for name, ids in by_name.items() if name}
        return self._by_name

    # -- types ------------------------------------------------------------------

    def get(self, type_id: int) -> Type:
        t = self.decoded[type_id]
        if t is None:
            t = self.decoded[type_id] = self.decode(type_id)
        return t

    def all(self) -> list[Type]:
        self._decode_all_strings()
        decoded, decode = self.decoded, self.decode
        # hundreds of thousands of new objects would set off the cyclic collector over and
        # over (half the time); none of them can be part of a cycle
        collecting = gc.isenabled()
        gc.disable()
        try:
            for type_id in range(1, self.count):
                if decoded[type_id] is None:
                    decoded[type_id] = decode(type_id)
        finally:
            if collecting:
                gc.enable()
        return decoded  # type: ignore[return-value]

    def decode(self, type_id: int) -> Type:
        """Type ``type_id`` built from its record, as :func:`~pybpf.btf.parse.parse_eager` builds it."""
        words, name_of = self.words, self.name
        pos = self.offsets[type_id]
        info = words[pos + 1]
        size_or_type = words[pos + 2]
        vlen, kind_number, kind_flag = info & 0xFFFF, (info >> 24) & 0x1F, bool(info >> 31)
        kind = _KINDS[kind_number]
        size = ref = encoding = bits = bit_offset = element = index_type = nelems = linkage = 0
        component = -1
        members: tuple[Member, ...] = ()
        pos += 3
        if kind_number == 4 or kind_number == 5:             # STRUCT, UNION
            size = size_or_type
            out = []
            for q in range(pos, pos + 3 * vlen, 3):
                m_off = words[q + 2]
                if kind_flag:
                    out.append(_member(name_of(words[q]), words[q + 1], m_off & 0xFFFFFF, m_off >> 24, 0, 0))
                else:
                    out.append(_member(name_of(words[q]), words[q + 1], m_off, 0, 0, 0))
            members = tuple(out)
        elif kind_number == 13:                              # FUNC_PROTO
            ref = size_or_type
            members = tuple(_member(name_of(words[q]), words[q + 1], 0, 0, 0, 0)
                            for q in range(pos, pos + 2 * vlen, 2))
        elif kind_number == 6:                               # ENUM (values read as signed)
            size = size_or_type
            out = []
            for q in range(pos, pos + 2 * vlen, 2):
                value = words[q + 1]
                out.append(_member(name_of(words[q]), 0, 0, 0, value - (1 << 32) if value >> 31 else value, 0))
            members = tuple(out)
        elif kind_number == 1:                               # INT
            word = words[pos]
            size, encoding, bit_offset, bits = size_or_type, (word >> 24) & 0xF, (word >> 16) & 0xFF, word & 0xFF
        elif kind_number == 3:                               # ARRAY
            element, index_type, nelems = words[pos], words[pos + 1], words[pos + 2]
        elif kind_number == 19:                              # ENUM64
            size = size_or_type
            out = []
            for q in range(pos, pos + 3 * vlen, 3):
                value = words[q + 2] << 32 | words[q + 1]
                if kind_flag and value >> 63:
                    value -= 1 << 64
                out.append(_member(name_of(words[q]), 0, 0, 0, value, 0))
            members = tuple(out)
        elif kind_number == 14:                              # VAR
            ref, linkage = size_or_type, words[pos]
        elif kind_number == 15:                              # DATASEC
            size = size_or_type
            members = tuple(_member("", words[q], words[q + 1], 0, 0, words[q + 2])
                            for q in range(pos, pos + 3 * vlen, 3))
        elif kind_number == 17:                              # DECL_TAG
            ref = size_or_type
            component = words[pos]
            if component >> 31:
                component -= 1 << 32
        elif kind_number == 16:                              # FLOAT
            size = size_or_type
        elif kind_number == 12:                              # FUNC
            ref, linkage = size_or_type, vlen
        else:  # VOID, PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
            ref = size_or_type
        # the frozen dataclass's own __init__ sets each field through object.__setattr__,
        # four times slower; the object built here is the same (fields, eq, hash, repr)
        t = _new(Type)
        t.__dict__.update(id=type_id, kind=kind, name=name_of(words[pos - 3]), size=size, ref=ref, members=members,
                          encoding=encoding, bits=bits, bit_offset=bit_offset, element=element,
                          index_type=index_type, nelems=nelems, linkage=linkage, kind_flag=kind_flag,
                          component=component)
        return t


def _member(name: str, type_id: int, offset: int, bit_size: int, value: int, size: int) -> Member:
    m = _new(Member)
    m.__dict__.update(name=name, type=type_id, offset=offset, bit_size=bit_size, value=value, size=size)
    return m
