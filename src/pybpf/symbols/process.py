"""Naming user-space addresses of a live process: /proc/PID/maps says which file an
address belongs to, the file's ELF symbols (or the process's perf map, for JIT code)
say which function.

ELF files are parsed once and shared between processes that map the same file
(keyed by device, inode and modification time, so a replaced binary is re-read).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from pybpf.symbols.elf import ElfSymbols
from pybpf.symbols.errors import SymbolError
from pybpf.symbols.perfmap import read_perf_map
from pybpf.symbols.procmaps import Mapping, mapping_at, read_maps
from pybpf.symbols.table import Location, SymbolTable


class ElfCache:
    """Parsed ELF files by identity, least recently used dropped beyond ``capacity``."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._files: OrderedDict[tuple[int, int, int], ElfSymbols | None] = OrderedDict()

    def get(self, path: str) -> ElfSymbols | None:
        """The symbols of ``path``, or None when it cannot be read (gone, not ELF)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino, st.st_mtime_ns)
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        try:
            symbols: ElfSymbols | None = ElfSymbols(path)
        except SymbolError:
            symbols = None
        self._files[key] = symbols
        if len(self._files) > self.capacity:
            self._files.popitem(last=False)
        return symbols


class ProcessSymbols:
    """Symbolizes addresses of one process as its memory map was when this was made."""

    def __init__(self, pid: int, elf_cache: ElfCache | None = None) -> None:
        self.pid = pid
        self._elfs = elf_cache if elf_cache is not None else ElfCache()
        self._maps = read_maps(pid)
        perf_map = Path(f"/tmp/perf-{pid}.map")
        self._jit: SymbolTable | None = read_perf_map(perf_map) if perf_map.exists() else None

    def locate(self, address: int) -> Location:
        """``function+offset [file]`` for ``address``; name None where nothing names it."""
        mapping = mapping_at(self._maps, address)
        if mapping is None or not mapping.is_file:
            if self._jit is not None and (hit := self._jit.find(address)) is not None:
                return Location(hit[0], hit[1], f"perf-{self.pid}.map")
            module = mapping.path or None if mapping is not None else None
            return Location(None, address, module)
        file_offset = address - mapping.start + mapping.offset
        elf = self._elfs.get(self._file_path(mapping))
        vaddr = elf.vaddr_of_offset(file_offset) if elf is not None else None
        hit = elf.find(vaddr) if elf is not None and vaddr is not None else None
        if hit is None:
            return Location(None, file_offset, mapping.path)
        return Location(hit[0], hit[1], mapping.path)

    def _file_path(self, mapping: Mapping) -> str:
        """A path that opens the mapped file, even from another mount namespace or after
        it was deleted (map_files needs root), else the path the map names."""
        by_mapping = f"/proc/{self.pid}/map_files/{mapping.start:x}-{mapping.end:x}"
        return by_mapping if os.access(by_mapping, os.R_OK) else mapping.path
