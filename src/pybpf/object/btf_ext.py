"""``.BTF.ext``: what clang records about each code section beside the types in ``.BTF``.

Three tables, each grouped by the code section it describes:

- **func_info** (``struct bpf_func_info``): where each function starts and the BTF id of
  its FUNC type — the kernel needs one per subprogram to verify calls between them;
- **line_info** (``struct bpf_line_info``): instruction → file, line, column and the
  source line's text, all as offsets into the ``.BTF`` string table; this is how a
  verifier message can quote the C line an instruction came from;
- **CO-RE relocations** (``struct bpf_core_relo``): instructions whose immediate or
  offset depends on the layout of a type, to be recomputed against the BTF of the kernel
  the program will run on (see :mod:`pybpf.object.core`).

Instruction offsets are in bytes from the start of the code section, as in the object
file; the loader turns them into instruction slots of each linked program. Records may
be longer than the fields known here (a newer compiler): the header's record size is the
stride and the known fields are read from the front of each record.
"""

from __future__ import annotations

import struct

from pybpf.btf import BTFError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")       # magic, version, flags, hdr_len, func/line off+len
_CORE = struct.Struct("<II")               # core_relo_off, core_relo_len (headers >= 32 bytes)
_FUNC = struct.Struct("<II")               # insn_off, type_id
_LINE = struct.Struct("<IIII")             # insn_off, file_name_off, line_off, line_col
_RELO = struct.Struct("<IIII")             # insn_off, type_id, access_str_off, kind


@dataclass(frozen=True)
class FuncInfo:
    """A function starting ``insn_off`` bytes into its section, of BTF FUNC ``type_id``."""

    insn_off: int
    type_id: int


@dataclass(frozen=True)
class LineInfo:
    """The source position of the instruction ``insn_off`` bytes into its section.

    ``file_name_off`` and ``line_off`` index the ``.BTF`` string table (the kernel takes
    them as they are); ``file`` and ``text`` are those strings.
    """

    insn_off: int
    file_name_off: int
    line_off: int
    line: int
    column: int
    file: str = ""
    text: str = ""

    @property
    def line_col(self) -> int:
        """The packed ``line_col`` field: line in the high 22 bits, column in the low 10."""
        return self.line << 10 | (self.column & 0x3FF)


@dataclass(frozen=True)
class CoreRelo:
    """One CO-RE relocation: the instruction ``insn_off`` bytes into its section depends
    on local type ``type_id`` through ``access`` (``"0:1:2"``: an array index, then member
    or element indexes), in the way ``kind`` (a :class:`pybpf.object.core.ReloKind`) says."""

    insn_off: int
    type_id: int
    access_str_off: int
    kind: int
    access: str = ""


@dataclass
class BTFExt:
    """The three tables of a ``.BTF.ext`` section, by code section name."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    func_info_rec_size: int = _FUNC.size
    line_info_rec_size: int = _LINE.size
    core_relo_rec_size: int = _RELO.size


@dataclass(frozen=True)
class SourceLine:
    """A C source position and the text of its line, as clang recorded them."""

    file: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        column = f":{self.column}" if self.column else ""
        return f"{self.file}:{self.line}{column}: {self.text.strip()}"


def btf_strings(blob: bytes) -> bytes:
    """The string table of a BTF blob (what ``.BTF.ext`` and line info offsets index)."""
    if len(blob) < _HEADER.size:
        raise BTFError(f"byte 0: {len(blob)} bytes is shorter than the BTF header")
    hdr_len, str_off, str_len = struct.unpack_from("<I", blob, 4)[0], *struct.unpack_from("<II", blob, 16)
    start = hdr_len + str_off
    if start + str_len > len(blob):
        raise BTFError(f"byte {start}: the string section ({str_len} bytes) runs past the end of the data")
    return blob[start:start + str_len]


def string_at(strings: bytes, offset: int, where: str) -> str:
    """The NUL-terminated string at ``offset`` of a BTF string table."""
    if not 0 <= offset < len(strings):
        raise BTFError(f"{where}: string offset {offset} is past the .BTF string table ({len(strings)} bytes)")
    end = strings.find(b"\0", offset)
    if end < 0:
        raise BTFError(f"{where}: the string at offset {offset} is not NUL-terminated")
    return strings[offset:end].decode("utf-8", "replace")


def parse_btf_ext(data: bytes, strings: bytes) -> BTFExt:
    """Parse a ``.BTF.ext`` section; ``strings`` is the string table of the object's ``.BTF``.

    Raises :class:`~pybpf.btf.BTFError` naming the byte offset of what is malformed.
    """
    if len(data) < _HEADER.size:
        raise BTFError(f"byte 0: {len(data)} bytes is shorter than the .BTF.ext header ({_HEADER.size})")
    magic, version, _flags, hdr_len, func_off, func_len, line_off, line_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BTFError(f"byte 0: bad magic 0x{magic:04x} (.BTF.ext starts with 0x{MAGIC:04x})")
    if version != 1:
        raise BTFError(f"byte 2: unsupported .BTF.ext version {version}")
    if hdr_len < _HEADER.size or hdr_len > len(data):
        raise BTFError(f"byte 4: header length {hdr_len} is not between {_HEADER.size} and {len(data)}")
    relo_off = relo_len = 0
    if hdr_len >= _HEADER.size + _CORE.size:
        relo_off, relo_len = _CORE.unpack_from(data, _HEADER.size)
    out = BTFExt()

    def func(raw: tuple, _at: int) -> FuncInfo:
        return FuncInfo(raw[0], raw[1])

    def line(raw: tuple, at: int) -> LineInfo:
        where = f"line_info record at byte {at}"
        return LineInfo(raw[0], raw[1], raw[2], raw[3] >> 10, raw[3] & 0x3FF,
                        string_at(strings, raw[1], where), string_at(strings, raw[2], where))

    def relo(raw: tuple, at: int) -> CoreRelo:
        return CoreRelo(raw[0], raw[1], raw[2], raw[3],
                        string_at(strings, raw[2], f"CO-RE relocation record at byte {at}"))

    out.func_info, out.func_info_rec_size = _table(data, hdr_len, func_off, func_len, _FUNC, func, strings,
                                                   "func_info")
    out.line_info, out.line_info_rec_size = _table(data, hdr_len, line_off, line_len, _LINE, line, strings,
                                                   "line_info")
    out.core_relos, out.core_relo_rec_size = _table(data, hdr_len, relo_off, relo_len, _RELO, relo, strings,
                                                    "CO-RE relocation")
    return out


def _table(data: bytes, base: int, offset: int, length: int, record: struct.Struct, make, strings: bytes,
           what: str) -> tuple[dict[str, list], int]:
    """One info table: a record size, then per section its name, count and records."""
    if not length:
        return {}, record.size
    start, end = base + offset, base + offset + length
    if end > len(data):
        raise BTFError(f"byte {start}: the {what} table ({length} bytes) runs past the end of .BTF.ext "
                       f"({len(data)} bytes)")
    if length < 4:
        raise BTFError(f"byte {start}: the {what} table is too short to hold its record size")
    rec_size = struct.unpack_from("<I", data, start)[0]
    if rec_size < record.size or rec_size % 4:
        raise BTFError(f"byte {start}: {what} record size {rec_size} is smaller than {record.size} "
                       "or not a multiple of 4")
    tables: dict[str, list] = {}
    pos = start + 4
    while pos < end:
        if pos + 8 > end:
            raise BTFError(f"byte {pos}: truncated {what} section header")
        name_off, count = struct.unpack_from("<II", data, pos)
        name = string_at(strings, name_off, f"byte {pos}")
        pos += 8
        if pos + count * rec_size > end:
            raise BTFError(f"byte {pos}: {count} {what} records of {rec_size} bytes for section {name!r} "
                           f"run past the end of the table")
        records = tables.setdefault(name, [])
        for _ in range(count):
            records.append(make(record.unpack_from(data, pos), pos))
            pos += rec_size
    return tables, rec_size
