"""The parts of a BPF ELF object the loader works with: sections, symbols and
relocations, read once through pyelftools and checked for what a BPF object must be
(64-bit, little-endian, machine EM_BPF, relocatable).

Malformed input — truncated files, wrong machine, offsets, sizes and string indexes
outside the file, symbols or relocations pointing outside their sections — is an
:class:`ObjectError` that names the file and the place. The header and section table are
checked first (:mod:`.layout`); pyelftools then reads only what lies inside the file, and
whatever it still raises is turned into an ObjectError saying what was being read.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from pybpf.object.elf.errors import ObjectError
from pybpf.object.elf.layout import SHT_REL, SHT_RELA, SectionHeader, check_layout

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

__all__ = ["ElfObject", "ObjectError", "Relocation", "Section", "Symbol", "read_object"]

SHF_EXECINSTR = 0x4
#: what pyelftools raises on input it cannot parse (its own errors, its construct
#: library's, and the Python errors its parsing code lets through)
_PARSER_ERRORS = (ELFError, ConstructError, ValueError, KeyError, IndexError, AssertionError, EOFError,
                  OverflowError, struct.error, TypeError, AttributeError)


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
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ObjectError(f"{path}: cannot read: {exc.strerror}") from None
    headers = check_layout(path, data)
    with _reading(path, "the ELF header"):
        elf = ELFFile(io.BytesIO(data))
    sections, symtab = _sections(path, elf, headers)
    symbols = _symbols(path, symtab, sections, headers)
    for index, header in enumerate(headers):
        if header.type in (SHT_REL, SHT_RELA):
            _relocations(path, elf, index, sections, symbols)
    return ElfObject(path, sections, symbols)


@contextmanager
def _reading(path: str, what: str) -> Iterator[None]:
    """Turn what pyelftools raises while reading ``what`` into an ObjectError."""
    try:
        yield
    except _PARSER_ERRORS as exc:
        raise ObjectError(f"{path}: {what} is malformed ({type(exc).__name__}: {exc})") from None


def _sections(path: str, elf: ELFFile, headers: list[SectionHeader]) -> tuple[dict[int, Section], SymbolTableSection]:
    sections: dict[int, Section] = {}
    symtab, symtab_index = None, 0
    for index in range(len(headers)):
        with _reading(path, f"section {index}"):
            sec = elf.get_section(index)
            data = b"" if sec["sh_type"] == "SHT_NOBITS" else sec.data()
            section = Section(index, sec.name, sec["sh_type"], sec["sh_flags"], sec["sh_size"], data)
        if sec["sh_type"] != "SHT_NOBITS" and len(data) != section.size:
            raise ObjectError(f"{path}: section {index} ({section.name}) is truncated "
                              f"({len(data)} of {section.size} bytes)")
        sections[index] = section
        if isinstance(sec, SymbolTableSection) and sec["sh_type"] == "SHT_SYMTAB":
            if symtab is not None:
                raise ObjectError(f"{path}: two symbol tables (sections {symtab_index} and {index})")
            symtab, symtab_index = sec, index
    if symtab is None:
        raise ObjectError(f"{path}: no symbol table (.symtab): was the object stripped?")
    return sections, symtab


def _symbols(path: str, symtab: SymbolTableSection, sections: dict[int, Section],
             headers: list[SectionHeader]) -> list[Symbol]:
    names_size = headers[symtab["sh_link"]].size
    symbols: list[Symbol] = []
    for number in range(symtab.num_symbols()):
        where = f"{symtab.name} symbol {number}"
        with _reading(path, where):
            sym = symtab.get_symbol(number)
            name_offset, shndx = sym["st_name"], sym["st_shndx"]
            value, size, info = sym["st_value"], sym["st_size"], sym["st_info"]
            kind, bind = info["type"], info["bind"]
        if name_offset >= names_size:
            raise ObjectError(f"{path}: {where}: name offset {name_offset} is past the end of its string "
                              f"table ({names_size} bytes)")
        index = shndx if isinstance(shndx, int) else -1
        if index >= 0 and index not in sections:
            raise ObjectError(f"{path}: {where} ({sym.name}) is defined in section {index}, which does not exist")
        symbols.append(Symbol(sym.name, value, size, str(kind), str(bind), index))
    return symbols


def _relocations(path: str, elf: ELFFile, index: int, sections: dict[int, Section], symbols: list[Symbol]) -> None:
    with _reading(path, f"relocation section {index}"):
        sec = elf.get_section(index)
        if not isinstance(sec, RelocationSection):
            return
        target = sections.get(sec["sh_info"])
        if target is None or target.name.startswith(".debug"):
            return          # DWARF's own relocations: nothing pybpf reads (most of a -g object's)
        if sec.is_RELA():
            entries = [(rel["r_offset"], rel["r_info_sym"], rel["r_info_type"]) for rel in sec.iter_relocations()]
        else:               # Elf64_Rel: r_offset, r_info (symbol << 32 | type), read in one go
            order = "<" if elf.little_endian else ">"
            raw = sec.data()
            if len(raw) % 16:
                raise ObjectError(f"{path}: {sec.name} is {len(raw)} bytes, not a whole number of "
                                  "16-byte relocations")
            entries = [(offset, info >> 32, info & 0xFFFF_FFFF)
                       for offset, info in struct.iter_unpack(order + "QQ", raw)]
    for offset, number, kind in entries:
        where = f"{path}: {sec.name} relocation at 0x{offset:x}"
        if number >= len(symbols):
            raise ObjectError(f"{where} names symbol {number}, beyond the {len(symbols)} symbols")
        if offset >= max(target.size, 1):
            raise ObjectError(f"{where} lies outside {target.name!r} ({target.size} bytes)")
        target.relocations.append(Relocation(offset, kind, symbols[number]))
