"""USDT probes read from an ELF file's ``.note.stapsdt`` section.

Each note (type 3, owner "stapsdt") gives the probe's address, the link-time address of
``.stapsdt.base`` (to correct for prelinking), an optional semaphore address, and the
provider, name and argument string. Uprobes want file offsets, so both the probe
address and the semaphore (which the kernel increments for us when given as the
uprobe's reference counter offset) are converted through the loadable segments.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpf.usdt.arguments import ArgKind, UsdtArgument, parse_arguments
from pybpf.usdt.errors import UsdtError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, replace
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, replace

#: note type 3; pyelftools names types by number alone, so it reports this one under the
#: GNU build-id name that shares the number
_NT_STAPSDT = {3, "NT_GNU_BUILD_ID"}


@dataclass(frozen=True)
class UsdtProbe:
    """One USDT probe site (a probe may have several sites, e.g. when inlined)."""

    path: str
    provider: str
    name: str
    address: int                 #: ELF virtual address of the probe's nop
    offset: int                  #: file offset of that nop: where the uprobe goes
    semaphore: int               #: virtual address of the semaphore, 0 if none
    semaphore_offset: int        #: its file offset (the uprobe's ref_ctr_offset), 0 if none
    arguments: tuple[UsdtArgument, ...]
    #: why the note's arguments cannot be decoded ("" if they can): only this probe is
    #: refused (find_probe, c_reader), not the file's others
    error: str = ""

    @property
    def qualified_name(self) -> str:
        """``provider:name``, as bpftrace and BCC's tplist print it."""
        return f"{self.provider}:{self.name}"


#: read_probes' files, oldest first: (device, inode, mtime, path) → sites
_READ: dict[tuple[int, int, int, str], list[UsdtProbe]] = {}
_READ_CAPACITY = 16


def read_probes(path: str | Path) -> list[UsdtProbe]:
    """All USDT probe sites of ELF file ``path`` (empty when it has none). Read once per
    file version: a tool enables several probes of a binary for each of its processes
    (dbslower: two probes of postgres for each of its backends), and a note naming a
    global reads the file's symbol tables (~0.3 s for postgres)."""
    try:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino, st.st_mtime_ns, str(path))
        if key not in _READ:
            with open(path, "rb") as f:
                _READ[key] = _probes(str(path), ELFFile(f))
            while len(_READ) > _READ_CAPACITY:
                del _READ[next(iter(_READ))]
        return list(_READ[key])
    except OSError as exc:
        raise UsdtError(f"{path}: cannot read: {exc.strerror}") from None
    except ELFError as exc:
        raise UsdtError(f"{path}: not a valid ELF file: {exc}") from None


def find_probe(path: str | Path, name: str, provider: str | None = None) -> list[UsdtProbe]:
    """The sites of probe ``name`` (optionally of ``provider``); an error names the
    probes that do exist when there is no match."""
    probes = read_probes(path)
    found = [p for p in probes if p.name == name and (provider is None or p.provider == provider)]
    if not found:
        wanted = f"{provider}:{name}" if provider else name
        known = ", ".join(sorted({p.qualified_name for p in probes})) or "none"
        raise UsdtError(f"{path}: no USDT probe {wanted} (probes here: {known})")
    refused = next((p.error for p in found if p.error), "")
    if refused:
        raise UsdtError(refused)
    return found


def _probes(path: str, elf: ELFFile) -> list[UsdtProbe]:
    base_section = elf.get_section_by_name(".stapsdt.base")
    segments = [(s["p_vaddr"], s["p_offset"], s["p_filesz"]) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    word = 8 if elf.elfclass == 64 else 4
    fmt = ("<" if elf.little_endian else ">") + ("QQQ" if word == 8 else "III")
    probes = []
    globals_: dict[str, int] | None = None     # read once, if an argument names a global
    for section in elf.iter_sections():
        if section.name != ".note.stapsdt":
            continue
        for note in section.iter_notes():
            if note["n_name"] != "stapsdt" or note["n_type"] not in _NT_STAPSDT:
                continue
            desc = note["n_descdata"]
            if len(desc) < 3 * word:
                raise UsdtError(f"{path}: .note.stapsdt note of {len(desc)} bytes is too short")
            pc, link_base, semaphore = struct.unpack_from(fmt, desc)
            strings = desc[3 * word:].split(b"\0")
            if len(strings) < 3:
                raise UsdtError(f"{path}: .note.stapsdt note at pc 0x{pc:x} lacks provider/name/arguments")
            provider, name, args = (s.decode("utf-8", "replace") for s in strings[:3])
            if base_section is not None:  # undo prelink's move of the whole image
                shift = base_section["sh_addr"] - link_base
                pc += shift
                semaphore = semaphore + shift if semaphore else 0
            error = ""
            try:
                arguments = parse_arguments(args)
            except UsdtError as exc:
                arguments, error = (), f"{path}: probe {provider}:{name}: {exc}"
            if any(arg.kind == ArgKind.GLOBAL for arg in arguments):
                if globals_ is None:
                    globals_ = _global_symbols(elf)
                arguments = tuple(_resolved(arg, globals_) for arg in arguments)
            probes.append(UsdtProbe(
                path, provider, name, pc, _file_offset(path, segments, pc), semaphore,
                _file_offset(path, segments, semaphore) if semaphore else 0, arguments, error,
            ))
    return probes


def _global_symbols(elf: ELFFile) -> dict[str, int]:
    """Name → link-time address of the file's data symbols (``.symtab``, ``.dynsym``)."""
    found: dict[str, int] = {}
    for table in (elf.get_section_by_name(".dynsym"), elf.get_section_by_name(".symtab")):
        if table is None or not hasattr(table, "iter_symbols"):
            continue
        for symbol in table.iter_symbols():
            if symbol.name and symbol["st_shndx"] != "SHN_UNDEF" and symbol["st_info"]["type"] == "STT_OBJECT":
                found[symbol.name] = symbol["st_value"]
    return found


def _resolved(arg: UsdtArgument, globals_: dict[str, int]) -> UsdtArgument:
    """A GLOBAL argument with its global's link-time address added to its displacement;
    unresolved (the reader returns an error for it) when the file has no such symbol."""
    if arg.kind != ArgKind.GLOBAL or arg.symbol not in globals_:
        return arg
    return replace(arg, value=globals_[arg.symbol] + arg.value, resolved=True)


def _file_offset(path: str, segments: list[tuple[int, int, int]], address: int) -> int:
    for vaddr, offset, size in segments:
        if vaddr <= address < vaddr + size:
            return address - vaddr + offset
    raise UsdtError(f"{path}: USDT address 0x{address:x} is in no loadable segment")
