"""One object that names both halves of a stack trace: kernel frames through kallsyms,
user frames through each process's maps and ELF files, all cached across calls.

Tools symbolize thousands of stacks from a handful of processes, so processes and
files are each read once; a process that exited before symbolization leaves its frames
as bare addresses instead of failing the whole report.
"""

from __future__ import annotations

from pathlib import Path

from pybpf.symbols.errors import SymbolError
from pybpf.symbols.kallsyms import KernelSymbols
from pybpf.symbols.process import ElfCache, ProcessSymbols
from pybpf.symbols.table import Location


class Symbolizer:
    """Cached kernel and per-process symbolization."""

    def __init__(self, kallsyms: str | Path = "/proc/kallsyms") -> None:
        self._kallsyms_path = kallsyms
        self._kernel: KernelSymbols | None = None
        self._elfs = ElfCache()
        self._processes: dict[int, ProcessSymbols | None] = {}

    @property
    def kernel_symbols(self) -> KernelSymbols:
        """The kernel's symbols, read on first use (raises SymbolError when hidden)."""
        if self._kernel is None:
            self._kernel = KernelSymbols.load(self._kallsyms_path)
        return self._kernel

    def kernel(self, address: int) -> Location:
        """Name a kernel address."""
        return self.kernel_symbols.locate(address)

    def user(self, pid: int, address: int) -> Location:
        """Name an address in process ``pid`` (a bare address once the process is gone)."""
        if pid not in self._processes:
            self.remember(pid)
        process = self._processes[pid]
        return process.locate(address) if process is not None else Location(None, address, None)

    def remember(self, pid: int) -> None:
        """Snapshot ``pid``'s memory map now, e.g. when its first event arrives, so its
        frames can still be named after it exits."""
        try:
            self._processes[pid] = ProcessSymbols(pid, self._elfs)
        except SymbolError:
            self._processes[pid] = None

    def forget(self, pid: int) -> None:
        """Drop what is known of ``pid`` (its pid may be reused by a new process)."""
        self._processes.pop(pid, None)
