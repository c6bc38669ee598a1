"""A sorted address → name table, the one lookup structure every symbol source shares.

Kernel symbols (no sizes), ELF symbols (sizes known) and perf maps (sizes known) all
answer the same question — which symbol covers this address? — with a binary search
over start addresses built once.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import NamedTuple

#: how far the last symbol of an unsized table reaches: a page, not the rest of memory
LAST_UNSIZED_SPAN = 4096


class Location(NamedTuple):
    """Where an address falls: ``name+offset`` inside ``module`` (None when unknown)."""

    name: str | None
    offset: int
    module: str | None = None

    def __str__(self) -> str:
        where = f" [{self.module}]" if self.module else ""
        if self.name is None:
            return f"0x{self.offset:x}{where}"
        plus = f"+0x{self.offset:x}" if self.offset else ""
        return f"{self.name}{plus}{where}"


class SymbolTable:
    """Symbols sorted by start address; :meth:`find` is a binary search.

    ``entries`` are ``(start, size, name)``; a size of 0 means "unknown, up to the next
    symbol" (kallsyms gives no sizes). Where several names share a start, the first one
    given wins, so callers pass the preferred alias first.
    """

    __slots__ = ("_starts", "_ends", "_names", "_by_name")

    def __init__(self, entries: Iterable[tuple[int, int, str]]) -> None:
        ordered = sorted(entries, key=lambda e: e[0])  # stable: preferred aliases stay first
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._names: list[str] = []
        self._by_name: dict[str, int] = {}
        for start, size, name in ordered:
            self._by_name.setdefault(name, start)
            if self._starts and self._starts[-1] == start:
                continue
            self._starts.append(start)
            self._ends.append(start + size if size else 0)
            self._names.append(name)
        # an unsized symbol ends where the next one starts
        for i, end in enumerate(self._ends):
            if end == 0:
                last = i + 1 == len(self._starts)
                self._ends[i] = self._starts[i] + LAST_UNSIZED_SPAN if last else self._starts[i + 1]

    def __len__(self) -> int:
        return len(self._starts)

    def find(self, address: int) -> tuple[str, int] | None:
        """The symbol covering ``address`` and the offset into it, or None."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0 or address >= self._ends[i]:
            return None
        return self._names[i], address - self._starts[i]

    def address(self, name: str) -> int | None:
        """The start address of ``name`` (any alias), or None."""
        return self._by_name.get(name)

    def names(self) -> list[str]:
        """Every name, aliases included (for "did you mean" suggestions)."""
        return list(self._by_name)

