"""JIT symbol files (/tmp/perf-PID.map) that Python's perf trampoline, Node, the JVM
agents and others write so profilers can name code that exists in no ELF file."""

from __future__ import annotations

from pathlib import Path

from pybpf.symbols.errors import SymbolError
from pybpf.symbols.table import SymbolTable


def read_perf_map(path: str | Path) -> SymbolTable:
    """Parse ``START SIZE NAME`` lines (hex start and size; the name may hold spaces)."""
    entries = []
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        raise SymbolError(f"{path}: cannot read perf map: {exc.strerror}") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split(maxsplit=2)
        if not fields:
            continue
        try:
            entries.append((int(fields[0], 16), int(fields[1], 16), fields[2]))
        except (ValueError, IndexError):
            raise SymbolError(f"{path}:{lineno}: expected 'START SIZE NAME', got {line!r}") from None
    return SymbolTable(entries)
