"""CTF 1.8 traces: a TSDL ``metadata`` file and one binary packet stream per stream id,
the format babeltrace2 and Trace Compass read.

Why CTF: it is the compact, typed trace format that the trace viewers already open, so
events recorded by pybpf tools can be browsed, filtered and converted there. Layout
written here (all little-endian, every field byte-aligned, so no bit packing):

* packet header: ``magic`` (0xC1FC1FC1), the trace ``uuid``, ``stream_id``;
* packet context: ``timestamp_begin``, ``timestamp_end`` (clock cycles), then
  ``content_size`` and ``packet_size`` in bits, ``events_discarded``;
* event header: ``id`` (u32) and ``timestamp`` (u64, mapped to the clock);
* event payload: the event class's fields, in declaration order.

Field types: ``u8``..``u64``, ``s8``..``s64`` (integers), ``f64`` (IEEE double),
``string`` (NUL-terminated UTF-8). The clock counts nanoseconds from ``offset_ns``
(by default the Unix epoch, so babeltrace2 prints wall-clock times).

Events of one stream must come in non-decreasing time order (viewers merge streams by
time, and expect each to be sorted); a packet is closed every ``packet_bytes``.
"""

from __future__ import annotations

import struct
import uuid as uuid_module
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from pybpf.output.errors import OutputError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

MAGIC = 0xC1FC1FC1
_HEADER = struct.Struct("<I16sI")               # magic, uuid, stream_id
_CONTEXT = struct.Struct("<QQQQQ")              # ts begin/end, content/packet size, discarded
_EVENT_HEADER = struct.Struct("<IQ")            # id, timestamp
_CODES = {8: "b", 16: "h", 32: "i", 64: "q"}
#: integer type name -> (its packer, signed, bits)
_INTEGERS = {f"{sign}{bits}": (struct.Struct("<" + (code if sign == "s" else code.upper())), sign == "s", bits)
             for sign in "us" for bits, code in _CODES.items()}
_DOUBLE = struct.Struct("<d")
# packets start 8-byte aligned (babeltrace2 2.0 misreads a string at the start of
# a packet at an odd offset); the padding lies between content_size and packet_size
_PACKET_ALIGN = 8
FIELD_TYPES = (*_INTEGERS, "f64", "string")


@dataclass(frozen=True)
class EventClass:
    """One kind of event: its id in the stream, name and typed fields."""

    id: int
    name: str
    fields: tuple[tuple[str, str], ...]

    def encode(self, values: Mapping[str, object]) -> bytes:
        """The payload of one event (the fields in declaration order)."""
        out = bytearray()
        for name, kind in self.fields:
            if name not in values:
                raise OutputError(f"CTF event {self.name!r}: no value for field {name!r}")
            value = values[name]
            try:
                if kind == "string":
                    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                    if "\0" in text:
                        raise OutputError(f"CTF event {self.name!r}: field {name!r} holds a NUL character")
                    out += text.encode() + b"\0"
                elif kind == "f64":
                    out += _DOUBLE.pack(float(value))
                else:
                    out += _INTEGERS[kind][0].pack(int(value))
            except (struct.error, TypeError, ValueError) as exc:
                raise OutputError(f"CTF event {self.name!r}: field {name!r} ({kind}) cannot hold {value!r}: {exc}") from None
        return bytes(out)


def _identifier(name: str, what: str) -> str:
    if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name):
        raise OutputError(f"CTF {what} {name!r}: must be a C identifier (letters, digits, _)")
    return name


class _Stream:
    """One stream file: events buffered into the current packet."""

    def __init__(self, file: IO[bytes], stream_id: int, trace_uuid: bytes, packet_bytes: int):
        self.file, self.stream_id, self.uuid, self.packet_bytes = file, stream_id, trace_uuid, packet_bytes
        self.events = bytearray()
        self.begin: int | None = None
        self.last = 0

    def add(self, timestamp: int, record: bytes) -> None:
        if timestamp < self.last:
            raise OutputError(f"CTF stream {self.stream_id}: timestamp {timestamp} is before the previous event's "
                              f"({self.last}); events of a stream must come in time order")
        if self.events and _HEADER.size + _CONTEXT.size + len(self.events) + len(record) > self.packet_bytes:
            self.flush()
        if self.begin is None:
            self.begin = timestamp
        self.last = timestamp
        self.events += record

    def flush(self) -> None:
        if not self.events:
            return
        size = _HEADER.size + _CONTEXT.size + len(self.events)
        padded = -(-size // _PACKET_ALIGN) * _PACKET_ALIGN
        self.file.write(_HEADER.pack(MAGIC, self.uuid, self.stream_id)
                        + _CONTEXT.pack(self.begin, self.last, size * 8, padded * 8, 0) + self.events
                        + bytes(padded - size))
        self.events = bytearray()
        self.begin = None


class CtfWriter:
    """Writes a CTF 1.8 trace directory: declare event classes, then write events.

    ``with CtfWriter(path) as trace: trace.event_class("exec", {"pid": "u32"});
    trace.write("exec", ts_ns, {"pid": 1})`` — the metadata is written on close, when
    every class is known.
    """

    def __init__(self, directory: str | Path, *, clock_name: str = "monotonic", offset_ns: int = 0,
                 packet_bytes: int = 1 << 16, trace_uuid: uuid_module.UUID | None = None,
                 environment: Mapping[str, str | int] | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.clock_name = _identifier(clock_name, "clock name")
        self.offset_ns = offset_ns
        self.packet_bytes = packet_bytes
        self.uuid = trace_uuid or uuid_module.uuid4()
        self.environment = dict(environment or {})
        self.classes: dict[str, EventClass] = {}
        self.streams: dict[int, _Stream] = {}
        self.count = 0

    def event_class(self, name: str, fields: Mapping[str, str]) -> EventClass:
        """Declare an event class; ``fields`` maps field names to types (:data:`FIELD_TYPES`)."""
        if name in self.classes:
            raise OutputError(f"CTF event class {name!r} declared twice")
        if not name or '"' in name or "\\" in name or "\n" in name:
            raise OutputError(f"CTF event class name {name!r}: must be non-empty, without quotes or backslashes")
        for field_name, kind in fields.items():
            _identifier(field_name, f"field of event {name!r}")
            if kind not in FIELD_TYPES:
                raise OutputError(f"CTF event {name!r}: field {field_name!r} has type {kind!r}, "
                                  f"expected one of {', '.join(FIELD_TYPES)}")
        cls = EventClass(len(self.classes), name, tuple(fields.items()))
        self.classes[name] = cls
        return cls

    def write(self, name: str, timestamp_ns: int, values: Mapping[str, object], *, stream: int = 0) -> None:
        """Append one event of class ``name`` at ``timestamp_ns`` (clock units) to ``stream``."""
        cls = self.classes.get(name)
        if cls is None:
            raise OutputError(f"CTF event class {name!r} was not declared")
        if not 0 <= stream < 1 << 32:
            raise OutputError(f"CTF stream id {stream} out of range")
        if not 0 <= timestamp_ns < 1 << 64:
            raise OutputError(f"CTF timestamp {timestamp_ns} out of range")
        target = self.streams.get(stream)
        if target is None:
            file = open(self.directory / f"stream_{stream}", "wb")
            target = self.streams[stream] = _Stream(file, stream, self.uuid.bytes, self.packet_bytes)
        target.add(timestamp_ns, _EVENT_HEADER.pack(cls.id, timestamp_ns) + cls.encode(values))
        self.count += 1

    def metadata(self) -> str:
        """The TSDL text describing the trace, its clock, streams and event classes."""
        lines = [
            "/* CTF 1.8 */",
            "",
            "typealias integer { size = 8; align = 8; signed = false; } := uint8_t;",
            "typealias integer { size = 32; align = 8; signed = false; } := uint32_t;",
            "typealias integer { size = 64; align = 8; signed = false; } := uint64_t;",
            "",
            "trace {",
            "    major = 1;",
            "    minor = 8;",
            f'    uuid = "{self.uuid}";',
            "    byte_order = le;",
            "    packet.header := struct {",
            "        uint32_t magic;",
            "        uint8_t uuid[16];",
            "        uint32_t stream_id;",
            "    };",
            "};",
            "",
        ]
        if self.environment:
            lines.append("env {")
            for key, value in self.environment.items():
                _identifier(key, "environment key")
                shown = value if isinstance(value, int) else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
                lines.append(f"    {key} = {shown};")
            lines += ["};", ""]
        lines += [
            "clock {",
            f"    name = {self.clock_name};",
            f'    uuid = "{self.uuid}";',
            "    freq = 1000000000;",
            "    precision = 1;",
            f"    offset_s = {self.offset_ns // 1_000_000_000};",
            f"    offset = {self.offset_ns % 1_000_000_000};",
            "    absolute = false;",
            "};",
            "",
            f"typealias integer {{ size = 64; align = 8; signed = false; map = clock.{self.clock_name}.value; }}"
            " := clock_u64_t;",
            "",
        ]
        for stream_id in sorted(self.streams) or [0]:
            lines += [
                "stream {",
                f"    id = {stream_id};",
                "    packet.context := struct {",
                "        clock_u64_t timestamp_begin;",
                "        clock_u64_t timestamp_end;",
                "        uint64_t content_size;",
                "        uint64_t packet_size;",
                "        uint64_t events_discarded;",
                "    };",
                "    event.header := struct {",
                "        uint32_t id;",
                "        clock_u64_t timestamp;",
                "    };",
                "};",
                "",
            ]
            for cls in self.classes.values():
                lines += [
                    "event {",
                    f'    name = "{cls.name}";',
                    f"    id = {cls.id};",
                    f"    stream_id = {stream_id};",
                    "    fields := struct {",
                    *(f"        {_tsdl_type(kind)} {field};" for field, kind in cls.fields),
                    "    };",
                    "};",
                    "",
                ]
        return "\n".join(lines)

    def close(self) -> None:
        """Flush every stream and write the metadata."""
        for stream in self.streams.values():
            stream.flush()
            stream.file.close()
        (self.directory / "metadata").write_text(self.metadata())

    def __enter__(self) -> CtfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tsdl_type(kind: str) -> str:
    if kind == "string":
        return "string"
    if kind == "f64":
        return "floating_point { exp_dig = 11; mant_dig = 53; align = 8; byte_order = le; }"
    _, signed, bits = _INTEGERS[kind]
    return f"integer {{ size = {bits}; align = 8; signed = {'true' if signed else 'false'}; }}"
