"""Tracepoint record layouts, parsed from tracefs ``format`` files, and records decoded
to (or built from) named field values.

A tracepoint program's context is the raw record the kernel writes; its layout is only
published as text (``field:TYPE NAME; offset:N; size:N; signed:N;``). Parsing it gives
the trace language named fields (``args->filename``), lets Python decode records sent
back through perf buffers, and lets the vm engine build records for synthetic events.
Dynamic fields (``__data_loc``/``__rel_loc``) hold a 32-bit (length << 16 | offset) that
points at data after the fixed part.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from typing import Any

from pybpf.tracefs.errors import TracefsError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_FIELD = re.compile(
    r"^\s*field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*(?:signed:(?P<signed>\d+);)?"
)
_DECL = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>\w+)\s*(?:\[(?P<len>\w*)\])?$")
_INT_FORMATS = {1: "b", 2: "h", 4: "i", 8: "q"}


@dataclass(frozen=True)
class Field:
    """One field of a tracepoint record."""

    name: str
    type: str                   #: the C type without the name or array brackets
    offset: int
    size: int                   #: bytes in the fixed part (4 for a dynamic field's locator)
    signed: bool
    array_len: int | None = None  #: element count of a fixed array
    dynamic: bool = False       #: ``__data_loc``: the data follows the fixed part
    relative: bool = False      #: ``__rel_loc``: its offset counts from the end of the locator

    @property
    def is_string(self) -> bool:
        """char arrays (fixed or dynamic) hold NUL-terminated text."""
        return self.type.split()[-1] == "char" and (self.array_len is not None or self.dynamic)

    @property
    def element_size(self) -> int:
        """Bytes per element of an array (the whole size for scalars)."""
        if self.dynamic:
            return _scalar_size(self.type)
        return self.size // self.array_len if self.array_len else self.size


@dataclass(frozen=True)
class TracepointFormat:
    """The layout of one tracepoint's records."""

    category: str
    name: str
    id: int
    fields: tuple[Field, ...]
    print_fmt: str = ""

    @property
    def qualified_name(self) -> str:
        """``category:name`` as users write it."""
        return f"{self.category}:{self.name}"

    @property
    def size(self) -> int:
        """Bytes in the fixed part of a record."""
        return max((f.offset + f.size for f in self.fields), default=0)

    def field(self, name: str) -> Field:
        """The field called ``name``; the error lists the fields that exist."""
        for f in self.fields:
            if f.name == name:
                return f
        names = ", ".join(f.name for f in self.fields if not f.name.startswith("common_"))
        raise TracefsError(f"tracepoint {self.qualified_name} has no field {name!r} (fields: {names})")

    def decode(self, record: bytes) -> dict[str, Any]:
        """Field name → value: ints, ``str`` for char arrays, tuples for other arrays."""
        if len(record) < self.size:
            raise TracefsError(f"{self.qualified_name}: record of {len(record)} bytes is shorter than "
                               f"its fixed part ({self.size} bytes)")
        return {f.name: _decode_field(self.qualified_name, f, record) for f in self.fields}

    def encode(self, values: Mapping[str, Any]) -> bytes:
        """A record with the given field values (others zero; ``common_type`` = the id),
        as the kernel would write it — for running tracepoint programs on the vm engine."""
        unknown = set(values) - {f.name for f in self.fields}
        if unknown:
            raise TracefsError(f"tracepoint {self.qualified_name} has no field {sorted(unknown)[0]!r}")
        record = bytearray(self.size)
        tail = bytearray()
        for f in self.fields:
            value = values.get(f.name, self.id if f.name == "common_type" else None)
            if value is None:
                continue
            data = _field_bytes(self.qualified_name, f, value)
            if f.dynamic:
                start = self.size + len(tail)
                where = start - (f.offset + f.size) if f.relative else start
                struct.pack_into("<I", record, f.offset, len(data) << 16 | where)
                tail += data
            else:
                record[f.offset:f.offset + len(data)] = data
        return bytes(record + tail)


def parse_format(text: str, category: str = "", source: str = "format") -> TracepointFormat:
    """Parse a tracefs ``format`` file; ``source`` names it in errors."""
    name, event_id, fields, print_fmt = "", None, [], ""
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("name:"):
            name = stripped[5:].strip()
        elif stripped.startswith("ID:"):
            try:
                event_id = int(stripped[3:])
            except ValueError:
                raise TracefsError(f"{source}:{lineno}: bad ID {stripped[3:].strip()!r}") from None
        elif stripped.startswith("field:"):
            fields.append(_parse_field(stripped, f"{source}:{lineno}"))
        elif stripped.startswith("print fmt:"):
            print_fmt = stripped[len("print fmt:"):].strip()
    if not name or event_id is None or not fields:
        raise TracefsError(f"{source}: not a tracepoint format (needs name:, ID: and field: lines)")
    return TracepointFormat(category, name, event_id, tuple(fields), print_fmt)


def _parse_field(line: str, where: str) -> Field:
    match = _FIELD.match(line)
    if match is None:
        raise TracefsError(f"{where}: cannot read field line {line!r}")
    decl = match["decl"].strip()
    dynamic = relative = False
    for marker in ("__data_loc", "__rel_loc"):
        if decl.startswith(marker + " "):
            dynamic, relative = True, marker == "__rel_loc"
            decl = decl[len(marker):].strip()
    if dynamic:  # "char[] name": the brackets sit on the type
        ctype, _, fname = decl.rpartition(" ")
        ctype = ctype.replace("[]", "").strip()
        array_len = None
    else:
        parts = _DECL.match(decl)
        if parts is None:
            raise TracefsError(f"{where}: cannot read declaration {decl!r}")
        ctype, fname = parts["type"].strip(), parts["name"]
        length = parts["len"]
        array_len = int(length, 0) if length and length.isalnum() and length[0].isdigit() else None
        if length is not None and array_len is None:  # [] or a symbolic length: infer from size
            array_len = int(match["size"]) // max(_scalar_size(ctype), 1)
    return Field(fname, ctype, int(match["offset"]), int(match["size"]), match["signed"] == "1",
                 array_len, dynamic, relative)


def _scalar_size(ctype: str) -> int:
    """Bytes of a scalar C type as tracepoints spell them (u8 … u64, char, int, long)."""
    words = ctype.replace("const", "").split()
    if "*" in ctype:
        return 8
    last = words[-1] if words else ""
    digits = re.search(r"(8|16|32|64)$", last)
    if digits:
        return int(digits[1]) // 8
    return {"char": 1, "short": 2, "int": 4, "long": 8, "bool": 1, "_Bool": 1}.get(last, 8)


def _int(data: bytes, offset: int, size: int, signed: bool) -> int:
    fmt = _INT_FORMATS.get(size)
    if fmt is None:
        return int.from_bytes(data[offset:offset + size], "little", signed=signed)
    return struct.unpack_from("<" + (fmt if signed else fmt.upper()), data, offset)[0]


def _decode_field(event: str, f: Field, record: bytes) -> Any:
    if f.dynamic:
        locator = _int(record, f.offset, 4, False)
        start, length = locator & 0xFFFF, locator >> 16
        if f.relative:
            start += f.offset + f.size
        if start + length > len(record):
            raise TracefsError(f"{event}: dynamic field {f.name} points past the record "
                               f"({start}+{length} > {len(record)})")
        return _array(f, record[start:start + length])
    if f.array_len is not None:
        return _array(f, record[f.offset:f.offset + f.size])
    return _int(record, f.offset, f.size, f.signed)


def _array(f: Field, data: bytes) -> Any:
    if f.is_string:
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")
    size = f.element_size
    return tuple(_int(data, i, size, f.signed) for i in range(0, len(data) - size + 1, size))


def _field_bytes(event: str, f: Field, value: Any) -> bytes:
    try:
        if f.is_string:
            raw = value.encode() if isinstance(value, str) else bytes(value)
            if f.dynamic:
                return raw + b"\0"
            if len(raw) >= f.size:
                raise TracefsError(f"{event}: {f.name} holds at most {f.size - 1} bytes, got {len(raw)}")
            return raw.ljust(f.size, b"\0")
        if f.dynamic or f.array_len is not None:
            items = list(value)
            if not f.dynamic and len(items) != f.array_len:
                raise TracefsError(f"{event}: {f.name} has {f.array_len} elements, got {len(items)}")
            return b"".join(_int_bytes(event, f, v, f.element_size) for v in items)
        return _int_bytes(event, f, value, f.size)
    except TypeError:
        raise TracefsError(f"{event}: {f.name} cannot hold {value!r}") from None


def _int_bytes(event: str, f: Field, value: int, size: int) -> bytes:
    try:
        return int(value).to_bytes(size, "little", signed=f.signed and value < 0)
    except OverflowError:
        raise TracefsError(f"{event}: {value} does not fit {f.name} ({size} bytes)") from None
