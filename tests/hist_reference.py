"""bpftrace's hist(n, bits) arithmetic written out independently of pybpf's (its log2
helper and its bucket labels), for the tests that check pybpf's histograms against it."""

from __future__ import annotations


def bucket(value: int, bits: int) -> int:
    """The bucket index of ``value``: 0 for negatives, value + 1 below 2^bits, then
    2^bits buckets per power of two."""
    if value < 0:
        return 0
    if value < 1 << bits:
        return value + 1
    power = value.bit_length() - 1
    shift = power - bits
    return ((shift + 1) << bits) + ((value >> shift) & ((1 << bits) - 1)) + 1


def _start(index: int, bits: int) -> str:
    n = 1 << bits
    power = (index >> bits) - 1
    decade = power // 10
    return f"{(1 << (power - 10 * decade)) * (n + (index & (n - 1)))}{['', 'K', 'M', 'G'][decade]}"


def label(index: int, bits: int) -> str:
    """The text label of bucket ``index``."""
    if index == 0:
        return "(..., 0)"
    if index <= 2 << bits:
        return f"[{index - 1}]"
    return f"[{_start(index - 1, bits)}, {_start(index, bits)})"


def rows(values: list[int], bits: int) -> list[tuple[str, int]]:
    """(label, count) of every bucket from the lowest to the highest used, as printed."""
    counts: dict[int, int] = {}
    for v in values:
        counts[bucket(v, bits)] = counts.get(bucket(v, bits), 0) + 1
    return [(label(i, bits), counts.get(i, 0)) for i in range(min(counts), max(counts) + 1)]
