"""The parts of a BPF ELF object the loader works with: sections, symbols and
relocations, read with :mod:`struct` and checked for what a BPF object must be (64-bit,
little-endian, machine EM_BPF, relocatable).

Malformed input — truncated files, wrong machine, offsets, sizes and string indexes
outside the file, symbols or relocations pointing outside their sections — is an
:class:`ObjectError` that names the file and the place. The header and section table are
checked first (:mod:`.layout`): every table read here lies inside the file.

The reader read these three tables through pyelftools before, and reads them as
pyelftools did — names up to the next NUL byte (UTF-8, errors replaced), pyelftools'
names for section types and for symbol types and bindings — without importing it:
pyelftools' ELF reader imports its DWARF reader and its construct library (which imports
pdb), ~40 ms of every command that reads an object.
"""

from __future__ import annotations

import os
import struct

from pybpf.object.elf.errors import ObjectError
from pybpf.object.elf.layout import SHT_NOBITS, SHT_REL, SHT_RELA, SHT_SYMTAB, SectionHeader, check_layout

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from pathlib import Path
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

__all__ = ["ElfObject", "ObjectError", "Relocation", "Section", "Symbol", "read_object"]

SHF_EXECINSTR = 0x4
#: Elf64_Sym: st_name, st_info, st_other, st_shndx, st_value, st_size
_SYMBOL = struct.Struct("<IBBHQQ")
#: Elf64_Rela: r_offset, r_info (symbol << 32 | type), r_addend
_RELA = struct.Struct("<QQq")
#: pyelftools' names of section types (ENUM_SH_TYPE_BASE: EM_BPF has no types of its
#: own); a type not named stays a number
_SECTION_TYPES = {0: "SHT_NULL", 1: "SHT_PROGBITS", 2: "SHT_SYMTAB", 3: "SHT_STRTAB", 4: "SHT_RELA", 5: "SHT_HASH",
                  6: "SHT_DYNAMIC", 7: "SHT_NOTE", 8: "SHT_NOBITS", 9: "SHT_REL", 10: "SHT_SHLIB", 11: "SHT_DYNSYM",
                  14: "SHT_INIT_ARRAY", 15: "SHT_FINI_ARRAY", 16: "SHT_PREINIT_ARRAY", 17: "SHT_GROUP",
                  18: "SHT_SYMTAB_SHNDX", 19: "SHT_RELR", 20: "SHT_NUM", 0x60000000: "SHT_LOOS",
                  0x6FFFFFF5: "SHT_GNU_ATTRIBUTES", 0x6FFFFFF6: "SHT_GNU_HASH", 0x6FFFFFF7: "SHT_GNU_LIBLIST",
                  0x6FFFFFFD: "SHT_GNU_verdef", 0x6FFFFFFE: "SHT_GNU_verneed", 0x6FFFFFFF: "SHT_GNU_versym",
                  0x80000000: "SHT_LOUSER", 0xFFFFFFFF: "SHT_HIUSER", 0x6FFFFFF3: "SHT_SUNW_LDYNSYM",
                  0x6FFFFFFC: "SHT_SUNW_syminfo"}
#: pyelftools' names of symbol types (the low 4 bits of st_info) and bindings (the high 4)
_SYMBOL_TYPES = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC", 3: "STT_SECTION", 4: "STT_FILE", 5: "STT_COMMON",
                 6: "STT_TLS", 7: "STT_NUM", 8: "STT_RELC", 9: "STT_SRELC", 10: "STT_LOOS", 12: "STT_HIOS",
                 13: "STT_LOPROC", 15: "STT_HIPROC"}
_SYMBOL_BINDS = {0: "STB_LOCAL", 1: "STB_GLOBAL", 2: "STB_WEAK", 3: "STB_NUM", 10: "STB_LOOS", 12: "STB_HIOS",
                 13: "STB_LOPROC", 15: "STB_HIPROC"}
#: st_shndx values that name no section: SHN_UNDEF, SHN_ABS, SHN_COMMON
_NO_SECTION = (0, 0xFFF1, 0xFFF2)


@dataclass(frozen=True)
class Symbol:
    """One ELF symbol (``section`` is the index of the section it is defined in, or -1)."""

    name: str
    value: int
    size: int
    type: str      # STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, ...
    bind: str      # STB_GLOBAL, STB_LOCAL, STB_WEAK
    section: int


@dataclass(frozen=True)
class Relocation:
    """A relocation: at ``offset`` in the section it applies to, of ``type``, for ``symbol``."""

    offset: int
    type: int
    symbol: Symbol


@dataclass
class Section:
    """One section: its data (empty for NOBITS), size, flags and relocations."""

    index: int
    name: str
    type: str
    flags: int
    size: int
    data: bytes
    relocations: list[Relocation] = field(default_factory=list)

    @property
    def executable(self) -> bool:
        """True for sections that hold BPF code."""
        return self.type == "SHT_PROGBITS" and bool(self.flags & SHF_EXECINSTR)


@dataclass
class ElfObject:
    """A parsed BPF object: sections by index and name, and every symbol."""

    path: str
    sections: dict[int, Section]
    symbols: list[Symbol]

    def section(self, name: str) -> Section | None:
        """The section called ``name``, or None."""
        return next((s for s in self.sections.values() if s.name == name), None)

    def symbols_in(self, index: int, kind: str | None = None) -> list[Symbol]:
        """The symbols defined in section ``index`` (of one type), by address."""
        return sorted((s for s in self.symbols if s.section == index and (kind is None or s.type == kind)),
                      key=lambda s: s.value)


def read_object(source: str | Path | bytes, name: str = "") -> ElfObject:
    """Parse a BPF object from a path or from its bytes (``name`` labels bytes in errors)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, path = bytes(source), name or "<bytes>"
    else:
        path = str(source)
        try:
            with open(os.fspath(source), "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ObjectError(f"{path}: cannot read: {exc.strerror}") from None
    headers = check_layout(path, data)
    sections, symtab = _sections(path, data, headers)
    symbols = _symbols(path, data, symtab, sections, headers)
    for header in headers:
        if header.type in (SHT_REL, SHT_RELA):
            _relocations(path, data, header, sections, symbols)
    return ElfObject(path, sections, symbols)


def _string(data: bytes, offset: int) -> str:
    """The string at ``offset`` of the file: up to the next NUL byte, wherever it is; ""
    when none follows (as pyelftools reads a string table)."""
    end = data.find(b"\0", offset)
    return data[offset:end].decode("utf-8", errors="replace") if end > offset else ""


def _sections(path: str, data: bytes, headers: list[SectionHeader]) -> tuple[dict[int, Section], SectionHeader]:
    names = headers[_names_index(data)]
    sections: dict[int, Section] = {}
    symtab = None
    for header in headers:
        index = header.index
        content = b"" if header.type == SHT_NOBITS else data[header.offset:header.offset + header.size]
        section = Section(index, _string(data, names.offset + header.name_offset),
                          _SECTION_TYPES.get(header.type, header.type), header.flags, header.size, content)  # type: ignore[arg-type]
        if header.type != SHT_NOBITS and len(content) != section.size:
            raise ObjectError(f"{path}: section {index} ({section.name}) is truncated "
                              f"({len(content)} of {section.size} bytes)")
        sections[index] = section
        if header.type == SHT_SYMTAB:
            if symtab is not None:
                raise ObjectError(f"{path}: two symbol tables (sections {symtab.index} and {index})")
            symtab = header
    if symtab is None:
        raise ObjectError(f"{path}: no symbol table (.symtab): was the object stripped?")
    return sections, symtab


def _names_index(data: bytes) -> int:
    """e_shstrndx (which :func:`check_layout` checked)."""
    return struct.unpack_from("<H", data, 62)[0]


def _symbols(path: str, data: bytes, symtab: SectionHeader, sections: dict[int, Section],
             headers: list[SectionHeader]) -> list[Symbol]:
    strings = headers[symtab.link]
    table = sections[symtab.index]
    symbols: list[Symbol] = []
    for number, (name_offset, info, _other, shndx, value, size) in enumerate(_SYMBOL.iter_unpack(table.data)):
        where = f"{table.name} symbol {number}"
        name = _string(data, strings.offset + name_offset)
        if name_offset >= strings.size:
            raise ObjectError(f"{path}: {where}: name offset {name_offset} is past the end of its string "
                              f"table ({strings.size} bytes)")
        index = -1 if shndx in _NO_SECTION else shndx
        if index >= 0 and index not in sections:
            raise ObjectError(f"{path}: {where} ({name}) is defined in section {index}, which does not exist")
        symbols.append(Symbol(name, value, size, str(_SYMBOL_TYPES.get(info & 0xF, info & 0xF)),
                              str(_SYMBOL_BINDS.get(info >> 4, info >> 4)), index))
    return symbols


def _relocations(path: str, data: bytes, header: SectionHeader, sections: dict[int, Section],
                 symbols: list[Symbol]) -> None:
    target = sections.get(header.info)
    if target is None or target.name.startswith(".debug"):
        return          # DWARF's own relocations: nothing pybpf reads (most of a -g object's)
    raw = sections[header.index].data
    name = sections[header.index].name
    if header.type == SHT_RELA:
        entries = [(offset, info >> 32, info & 0xFFFF_FFFF) for offset, info, _addend in _RELA.iter_unpack(raw)]
    else:               # Elf64_Rel: r_offset, r_info (symbol << 32 | type)
        if len(raw) % 16:
            raise ObjectError(f"{path}: {name} is {len(raw)} bytes, not a whole number of "
                              "16-byte relocations")
        entries = [(offset, info >> 32, info & 0xFFFF_FFFF) for offset, info in struct.iter_unpack("<QQ", raw)]
    for offset, number, kind in entries:
        where = f"{path}: {name} relocation at 0x{offset:x}"
        if number >= len(symbols):
            raise ObjectError(f"{where} names symbol {number}, beyond the {len(symbols)} symbols")
        if offset >= max(target.size, 1):
            raise ObjectError(f"{where} lies outside {target.name!r} ({target.size} bytes)")
        target.relocations.append(Relocation(offset, kind, symbols[number]))
