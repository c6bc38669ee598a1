"""Checks on an ELF file's header and section header table, made before anything else
is read from it.

A reader that trusts what the file says (as pyelftools does) reads past the end for a
section "at" offset 2^60, a size larger than the file or a name index past the name
table, asks for absurd allocations or raises exceptions of its own. Checking every
offset, size, entry size and link here first means a damaged object is refused with the
field, the section and the value at fault ("section 5 (.reltracepoint/...): offset
0x1ce8 + size 0x40000 runs past the end of the file (9870 bytes)"), and that the reader
(:mod:`.reader`) can take every table it reads as lying inside the file.
"""

from __future__ import annotations

import struct

from pybpf.object.elf.errors import ObjectError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

EM_BPF = 247
ET_REL = 1
SHT_NULL, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 0, 2, 3, 4, 8, 9
#: e_ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
#: e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
#: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize
_SHDR = struct.Struct("<IIQQQQIIQQ")
_ENTRY_SIZES = {SHT_SYMTAB: 24, SHT_REL: 16, SHT_RELA: 24}


@dataclass(frozen=True)
class SectionHeader:
    """The fields of one section header that the checks and the reader use."""

    index: int
    name_offset: int
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


def check_layout(path: str, data: bytes) -> list[SectionHeader]:
    """Refuse anything but a well-formed 64-bit little-endian relocatable EM_BPF object
    whose sections, symbol tables and relocation tables lie inside the file; returns the
    section headers."""
    _check_ident(path, data)
    if len(data) < _EHDR.size:
        raise ObjectError(f"{path}: not a valid ELF file: {len(data)} bytes is shorter than the 64-byte ELF header "
                          "(truncated?)")
    (_ident, e_type, machine, _version, _entry, _phoff, shoff, _flags, _ehsize, _phentsize, _phnum,
     shentsize, shnum, shstrndx) = _EHDR.unpack_from(data)
    if machine != EM_BPF:
        name = _machine_name(machine)
        raise ObjectError(f"{path}: e_machine is {name}, not BPF (EM_BPF, {EM_BPF}): compile with -target bpf")
    if e_type != ET_REL:
        raise ObjectError(f"{path}: e_type is {e_type}; BPF objects are relocatable (ET_REL, from clang -c)")
    if shentsize != _SHDR.size:
        raise ObjectError(f"{path}: e_shentsize is {shentsize}; ELF64 section headers are {_SHDR.size} bytes")
    if shnum == 0:
        raise ObjectError(f"{path}: the file has no section headers (e_shnum is 0)")
    if shoff + shnum * _SHDR.size > len(data):
        raise ObjectError(f"{path}: the section header table at offset 0x{shoff:x} ({shnum} entries) runs past "
                          f"the end of the file ({len(data)} bytes): truncated?")
    headers = [SectionHeader(i, *_fields(_SHDR.unpack_from(data, shoff + i * _SHDR.size)))
               for i in range(shnum)]
    if not 0 < shstrndx < shnum or headers[shstrndx].type != SHT_STRTAB:
        raise ObjectError(f"{path}: e_shstrndx {shstrndx} does not name a string table section "
                          f"(the file has {shnum} sections)")
    names = headers[shstrndx]
    _check_inside(path, data, names, f"section {shstrndx} (the section name table)")
    for header in headers:
        _check_section(path, data, header, headers, names)
    return headers


def _check_inside(path: str, data: bytes, header: SectionHeader, what: str) -> None:
    if header.type not in (SHT_NULL, SHT_NOBITS) and header.offset + header.size > len(data):
        raise ObjectError(f"{path}: {what}: offset 0x{header.offset:x} + size 0x{header.size:x} runs past the "
                          f"end of the file ({len(data)} bytes): truncated?")


def _fields(raw: tuple) -> tuple:
    name, kind, flags, _addr, offset, size, link, info, _align, entsize = raw
    return name, kind, flags, offset, size, link, info, entsize


def _machine_name(machine: int) -> str:
    """``EM_X86_64`` for 62: pyelftools' table of machines, imported for this message
    only (pyelftools' modules take ~25 ms to import, which reading an object no longer
    needs)."""
    from elftools.elf.enums import ENUM_E_MACHINE

    names = {number: name for name, number in ENUM_E_MACHINE.items() if isinstance(number, int)}
    return names.get(machine, f"machine {machine}")


def _check_ident(path: str, data: bytes) -> None:
    if data[:4] != b"\x7fELF":
        raise ObjectError(f"{path}: not a valid ELF file (it starts with {bytes(data[:4])!r}, not b'\\x7fELF')")
    if len(data) < 6:
        raise ObjectError(f"{path}: not a valid ELF file: {len(data)} bytes is shorter than the ELF identification "
                          "(truncated?)")
    if data[4] == 1:
        raise ObjectError(f"{path}: a 32-bit ELF file; BPF objects are 64-bit")
    if data[4] != 2:
        raise ObjectError(f"{path}: byte 4 (EI_CLASS) is {data[4]}, neither 32-bit (1) nor 64-bit (2)")
    if data[5] == 2:
        raise ObjectError(f"{path}: a big-endian BPF object (bpfeb); this machine needs little-endian "
                          "(compile with -target bpfel)")
    if data[5] != 1:
        raise ObjectError(f"{path}: byte 5 (EI_DATA) is {data[5]}, neither little- (1) nor big-endian (2)")


def _check_section(path: str, data: bytes, header: SectionHeader, headers: list[SectionHeader],
                   names: SectionHeader) -> None:
    where = f"{path}: section {header.index}"
    if header.index == 0:
        return          # the reserved null section: nothing in it is read
    if header.name_offset >= names.size:
        raise ObjectError(f"{where}: name offset {header.name_offset} is past the end of the section name "
                          f"table ({names.size} bytes)")
    name = data[names.offset + header.name_offset:].split(b"\0", 1)[0].decode("latin-1")
    where += f" ({name})"
    _check_inside(path, data, header, where.removeprefix(f"{path}: "))
    entsize = _ENTRY_SIZES.get(header.type)
    if entsize is None:
        return
    if header.entsize != entsize or header.size % entsize:
        raise ObjectError(f"{where}: {header.size} bytes of {header.entsize}-byte entries; its entries "
                          f"are {entsize} bytes each")
    if header.link >= len(headers):
        raise ObjectError(f"{where}: sh_link {header.link} names no section ({len(headers)} sections)")
    linked = headers[header.link].type
    if header.type == SHT_SYMTAB and linked != SHT_STRTAB:
        raise ObjectError(f"{where}: sh_link {header.link} names a section of type {linked}, "
                          "not the string table of its symbols")
    if header.type in (SHT_REL, SHT_RELA) and linked != SHT_SYMTAB:
        raise ObjectError(f"{where}: sh_link {header.link} names a section of type {linked}, not a symbol table")
    if header.type in (SHT_REL, SHT_RELA) and not 0 < header.info < len(headers):
        raise ObjectError(f"{where}: applies to section {header.info} (sh_info), which does not exist")
