"""A process's memory map (/proc/PID/maps), to tell which file an address belongs to."""

from __future__ import annotations

import bisect
from typing import NamedTuple

from pybpf.symbols.errors import SymbolError


class Mapping(NamedTuple):
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str
    offset: int
    inode: int
    path: str

    @property
    def is_file(self) -> bool:
        """True for a mapping of a regular file (not [heap], [vdso], anonymous memory)."""
        return self.inode != 0 and self.path.startswith("/")


def parse_maps(text: str, source: str = "maps") -> list[Mapping]:
    """Parse the text of a maps file; ``source`` names it in errors."""
    mappings = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split(maxsplit=5)
        try:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            mappings.append(Mapping(start, end, fields[1], int(fields[2], 16), int(fields[4]),
                                    fields[5].strip() if len(fields) > 5 else ""))
        except (ValueError, IndexError):
            raise SymbolError(f"{source}:{lineno}: not a maps line: {line!r}") from None
    mappings.sort()
    return mappings


def read_maps(pid: int) -> list[Mapping]:
    """The mappings of process ``pid``, sorted by start address."""
    path = f"/proc/{pid}/maps"
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise SymbolError(f"{path}: cannot read the memory map of pid {pid}: {exc.strerror}") from None
    return parse_maps(text, path)


def mapping_at(mappings: list[Mapping], address: int) -> Mapping | None:
    """The mapping containing ``address`` in a sorted list, or None."""
    i = bisect.bisect_right(mappings, (address, float("inf"))) - 1
    if i >= 0 and mappings[i].start <= address < mappings[i].end:
        return mappings[i]
    return None
