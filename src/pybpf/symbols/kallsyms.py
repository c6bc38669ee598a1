"""Kernel symbols from /proc/kallsyms, for naming kernel stack frames and resolving
kernel function names to addresses.

kallsyms lists ``address type name [module]`` without sizes, so a symbol reaches up to
the next one. Unprivileged readers see every address as zero (``kptr_restrict``); that
is reported as an error rather than silently naming every frame after the first symbol.
"""

from __future__ import annotations

from pathlib import Path

from pybpf.symbols.errors import SymbolError
from pybpf.symbols.table import Location, SymbolTable

#: symbol types that name code (kallsyms uses nm's letters; lower case = local)
_TEXT_TYPES = frozenset("tTwW")


class KernelSymbols:
    """The kernel's code symbols, core and modules, in one sorted table."""

    def __init__(self, table: SymbolTable, modules: dict[str, str]) -> None:
        self._table = table
        self._modules = modules

    @classmethod
    def load(cls, path: str | Path = "/proc/kallsyms") -> KernelSymbols:
        """Read ``path``; raise :class:`SymbolError` when it is unreadable or hidden."""
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SymbolError(f"{path}: cannot read kernel symbols: {exc.strerror}") from None
        entries: list[tuple[int, int, str]] = []
        modules: dict[str, str] = {}
        nonzero = False
        for lineno, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if len(fields) < 3:
                raise SymbolError(f"{path}:{lineno}: expected 'address type name', got {line!r}")
            try:
                address = int(fields[0], 16)
            except ValueError:
                raise SymbolError(f"{path}:{lineno}: bad address {fields[0]!r}") from None
            nonzero = nonzero or address != 0
            if fields[1] not in _TEXT_TYPES:
                continue
            name = fields[2]
            entries.append((address, 0, name))
            if len(fields) > 3:
                modules[name] = fields[3].strip("[]")
        if entries and not nonzero:
            raise SymbolError(
                f"{path}: every address reads as 0: the kernel hides them from this user "
                "(kernel.kptr_restrict); run as root or with CAP_SYSLOG"
            )
        return cls(SymbolTable(entries), modules)

    def __len__(self) -> int:
        return len(self._table)

    def locate(self, address: int) -> Location:
        """``name+offset [module]`` for a kernel code address (name None if outside)."""
        hit = self._table.find(address)
        if hit is None:
            return Location(None, address, "kernel")
        name, offset = hit
        return Location(name, offset, self._modules.get(name, "kernel"))

    def address(self, name: str) -> int | None:
        """The address of kernel function ``name``, or None if the kernel has none."""
        return self._table.address(name)
