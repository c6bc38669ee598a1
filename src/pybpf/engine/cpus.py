"""How many CPUs per-CPU map values have: the *possible* CPUs, not the online ones.

The kernel sizes a per-CPU lookup by ``num_possible_cpus()``; reading
/sys/devices/system/cpu/possible ("0-3", "0,2-5") gives the same number in userspace.
"""

from __future__ import annotations

from functools import cache

from pybpf.errors import PybpfError

POSSIBLE = "/sys/devices/system/cpu/possible"


def parse_cpu_list(text: str) -> list[int]:
    """CPU numbers in the kernel's list format (``0-3,5``); PybpfError when malformed."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        low, sep, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if sep else first
        except ValueError:
            raise PybpfError(f"bad CPU list {text.strip()!r}: {part!r} is not N or N-M") from None
        if last < first:
            raise PybpfError(f"bad CPU list {text.strip()!r}: range {part!r} runs backwards")
        cpus.extend(range(first, last + 1))
    return cpus


@cache
def possible_cpus() -> int:
    """The number of possible CPUs (highest possible CPU number + 1)."""
    with open(POSSIBLE) as f:
        return max(parse_cpu_list(f.read())) + 1
