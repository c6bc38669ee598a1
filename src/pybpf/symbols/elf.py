"""Function symbols of one ELF file (executable or shared library), and the mapping
between its virtual addresses and file offsets.

Symbols come from ``.symtab``, ``.dynsym`` and ``.gnu_debugdata`` (the xz-compressed
"MiniDebugInfo" ELF some distributions embed so stripped binaries still name their
functions). Both directions of the address mapping matter: stack traces arrive as
process addresses that map to file offsets (via /proc/PID/maps) and then to symbol
addresses; uprobes are placed by file offset computed from a symbol's address.
"""

from __future__ import annotations

import io
import lzma
import os
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_ST_INFO_TYPE
from elftools.elf.sections import SymbolTableSection
from elftools.elf.segments import NoteSegment

from pybpf.symbols.errors import SymbolError
from pybpf.symbols.table import SymbolTable

#: STT_GNU_IFUNC is 10, which pyelftools names STT_LOOS (the first OS-specific type)
_IFUNC_TYPES = frozenset({"STT_GNU_IFUNC", "STT_LOOS"})
_FUNC_TYPES = frozenset({"STT_FUNC"}) | _IFUNC_TYPES
#: among aliases at one address the name with fewest leading underscores wins (glibc's
#: public names are weak aliases of ``__`` ones), then global over weak over local
_BINDING_RANK = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}


#: ElfSymbols.cached's files, oldest first
_PARSED: dict[tuple[int, int, int], ElfSymbols] = {}
_PARSED_CAPACITY = 16


class ElfSymbols:
    """The function symbols and loadable segments of one ELF file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            with open(path, "rb") as f:
                elf = ELFFile(f)
                self._segments = [
                    (seg["p_vaddr"], seg["p_offset"], seg["p_filesz"])
                    for seg in elf.iter_segments()
                    if seg["p_type"] == "PT_LOAD"
                ]
                #: the GNU build id (what BPF_F_STACK_BUILD_ID stack maps name the file by)
                self.build_id = next((bytes.fromhex(note["n_desc"]) for seg in elf.iter_segments()
                                      if isinstance(seg, NoteSegment) for note in seg.iter_notes()
                                      if note["n_type"] == "NT_GNU_BUILD_ID"), None)
                ranked = _function_symbols(elf)
                debugdata = elf.get_section_by_name(".gnu_debugdata")
                if debugdata is not None:
                    ranked += _minidebuginfo_symbols(self.path, debugdata.data())
        except OSError as exc:
            raise SymbolError(f"{path}: cannot read: {exc.strerror}") from None
        except ELFError as exc:
            raise SymbolError(f"{path}: not a valid ELF file: {exc}") from None
        ranked.sort(key=lambda r: r[0])  # the preferred alias first among equal starts
        self._table = SymbolTable((start, size, name) for _, start, size, name, _ in ranked)
        #: name → address of the IFUNC symbols (resolvers, see :mod:`pybpf.symbols.ifunc`)
        self._ifuncs = {name: start for _, start, _, name, ifunc in ranked if ifunc}

    @classmethod
    def cached(cls, path: str | Path) -> ElfSymbols:
        """The symbols of ``path``, parsed once per file version (device, inode, mtime):
        probing many functions of one library (uprobe globs, a tool's dozen probes)
        would otherwise parse it again for each."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise SymbolError(f"{path}: cannot read: {exc.strerror}") from None
        key = (st.st_dev, st.st_ino, st.st_mtime_ns)
        found = _PARSED.get(key)
        if found is None:
            found = _PARSED[key] = cls(path)
            while len(_PARSED) > _PARSED_CAPACITY:
                del _PARSED[next(iter(_PARSED))]
        return found

    def __len__(self) -> int:
        return len(self._table)

    def find(self, address: int) -> tuple[str, int] | None:
        """The function covering ELF virtual address ``address`` and the offset into it."""
        return self._table.find(address)

    def address(self, name: str) -> int | None:
        """The ELF virtual address of function ``name``, or None."""
        return self._table.address(name)

    def call_address(self, name: str) -> int | None:
        """The ELF virtual address where calls of function ``name`` run, or None: its
        address, or for an IFUNC symbol the implementation the dynamic loader binds it to
        (a uprobe on the resolver would fire only at relocation)."""
        from pybpf.symbols.ifunc import ifunc_implementation

        address = self._table.address(name)
        if address is None or address not in self._ifuncs.values():
            return address
        resolver_names = [n for n, a in self._ifuncs.items() if a == address]
        name = name if name in resolver_names else resolver_names[0]
        return ifunc_implementation(self.path, name, list(self._ifuncs))

    def names(self) -> list[str]:
        """Every function name in the file."""
        return self._table.names()

    def vaddr_of_offset(self, offset: int) -> int | None:
        """The virtual address a file offset is loaded at, or None outside every segment."""
        for vaddr, foff, size in self._segments:
            if foff <= offset < foff + size:
                return offset - foff + vaddr
        return None

    def offset_of_vaddr(self, address: int) -> int | None:
        """The file offset holding virtual address ``address`` (what uprobes take)."""
        for vaddr, foff, size in self._segments:
            if vaddr <= address < vaddr + size:
                return address - vaddr + foff
        return None


def _function_symbols(elf: ELFFile) -> list[tuple[tuple[int, int, int, str], int, int, str, bool]]:
    """(rank, start, size, name, is IFUNC) for every defined function symbol of every
    symbol table."""
    found = []
    for section in elf.iter_sections():
        if not isinstance(section, SymbolTableSection):
            continue
        for sym in section.iter_symbols():
            info = sym["st_info"]
            if info["type"] not in _FUNC_TYPES or sym["st_shndx"] == "SHN_UNDEF" or not sym["st_value"]:
                continue
            name = sym.name.split("@", 1)[0]
            if not name:
                continue
            rank = (len(name) - len(name.lstrip("_")), _BINDING_RANK.get(info["bind"], 3), len(name), name)
            found.append((rank, sym["st_value"], sym["st_size"], name, info["type"] in _IFUNC_TYPES))
    return found


def _minidebuginfo_symbols(path: str, data: bytes) -> list[tuple[tuple[int, int, int, str], int, int, str, bool]]:
    """The symbols of the xz-compressed ELF embedded as ``.gnu_debugdata``."""
    try:
        inner = lzma.decompress(data)
    except lzma.LZMAError as exc:
        raise SymbolError(f"{path}: .gnu_debugdata is not valid xz data: {exc}") from None
    try:
        return _function_symbols(ELFFile(io.BytesIO(inner)))
    except ELFError as exc:
        raise SymbolError(f"{path}: .gnu_debugdata does not hold an ELF file: {exc}") from None


def symbol_value(path: str | Path, name: str, types: int = ~0) -> tuple[int, int] | None:
    """(address, size) of the defined symbol ``name`` of any kind (variables too, which
    :class:`ElfSymbols` leaves out) from ``.symtab`` or ``.dynsym``; None when absent.
    ``types`` limits it to the symbol types whose bits it sets (``1 << STT_GNU_IFUNC``)."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for section in elf.iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                for sym in section.get_symbol_by_name(name) or ():
                    kind = ENUM_ST_INFO_TYPE.get(sym["st_info"]["type"], sym["st_info"]["type"])
                    if sym["st_shndx"] != "SHN_UNDEF" and sym["st_value"] and types & (1 << int(kind)):
                        return sym["st_value"], sym["st_size"]
    except OSError as exc:
        raise SymbolError(f"{path}: cannot read: {exc.strerror}") from None
    except ELFError as exc:
        raise SymbolError(f"{path}: not a valid ELF file: {exc}") from None
    return None
