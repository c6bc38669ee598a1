"""The parts of a BPF ELF object the loader works with: sections, symbols and
relocations, read once through pyelftools and checked for what a BPF object must be
(64-bit, little-endian, machine EM_BPF, relocatable).

Malformed input — truncated files, wrong machine, symbols or relocations pointing
outside their sections — is an :class:`ObjectError` that names the file and the place.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from pybpf.object.errors import SpecError

EM_BPF = 247
SHF_EXECINSTR = 0x4


class ObjectError(SpecError):
    """A BPF object file that cannot be loaded: names the file, section or symbol and why."""


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
    try:
        return _parse(path, ELFFile(io.BytesIO(data)))
    except ELFError as exc:
        raise ObjectError(f"{path}: not a valid ELF file: {exc}") from None
    except (ValueError, KeyError, IndexError, AssertionError, EOFError) as exc:  # pyelftools on truncated input
        raise ObjectError(f"{path}: malformed ELF ({type(exc).__name__}: {exc})") from None


def _parse(path: str, elf: ELFFile) -> ElfObject:
    if elf.elfclass != 64:
        raise ObjectError(f"{path}: a {elf.elfclass}-bit ELF file; BPF objects are 64-bit")
    if elf["e_machine"] not in ("EM_BPF", EM_BPF):
        raise ObjectError(f"{path}: built for {elf['e_machine']}, not BPF (compile with -target bpf)")
    if not elf.little_endian:
        raise ObjectError(f"{path}: a big-endian BPF object (bpfeb); this machine needs little-endian "
                          "(compile with -target bpfel)")
    if elf["e_type"] != "ET_REL":
        raise ObjectError(f"{path}: {elf['e_type']} file; BPF objects are relocatable (ET_REL, from clang -c)")
    sections: dict[int, Section] = {}
    symbols: list[Symbol] = []
    symtab = None
    for index, sec in enumerate(elf.iter_sections()):
        data = b"" if sec["sh_type"] == "SHT_NOBITS" else sec.data()
        if sec["sh_type"] != "SHT_NOBITS" and len(data) != sec["sh_size"]:
            raise ObjectError(f"{path}: section {sec.name!r} is truncated ({len(data)} of {sec['sh_size']} bytes)")
        sections[index] = Section(index, sec.name, sec["sh_type"], sec["sh_flags"], sec["sh_size"], data)
        if isinstance(sec, SymbolTableSection):
            symtab = sec
    if symtab is None:
        raise ObjectError(f"{path}: no symbol table (.symtab): was the object stripped?")
    for sym in symtab.iter_symbols():
        shndx = sym["st_shndx"]
        index = shndx if isinstance(shndx, int) else -1
        if index >= 0 and index not in sections:
            raise ObjectError(f"{path}: symbol {sym.name!r} is defined in section {index}, which does not exist")
        symbols.append(Symbol(sym.name, sym["st_value"], sym["st_size"], sym["st_info"]["type"],
                              sym["st_info"]["bind"], index))
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = sections.get(sec["sh_info"])
        if target is None:
            raise ObjectError(f"{path}: relocation section {sec.name!r} applies to missing section {sec['sh_info']}")
        for rel in sec.iter_relocations():
            number = rel["r_info_sym"]
            if number >= len(symbols):
                raise ObjectError(f"{path}: {sec.name} relocation at 0x{rel['r_offset']:x} names symbol "
                                  f"{number}, beyond the {len(symbols)} symbols")
            if rel["r_offset"] >= max(target.size, 1):
                raise ObjectError(f"{path}: {sec.name} relocation at 0x{rel['r_offset']:x} lies outside "
                                  f"{target.name!r} ({target.size} bytes)")
            target.relocations.append(Relocation(rel["r_offset"], rel["r_info_type"], symbols[number]))
    return ElfObject(path, sections, symbols)
