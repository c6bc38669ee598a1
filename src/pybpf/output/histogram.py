"""Power-of-two and linear histograms, bucketed and printed the way bpftrace and BCC
users already read them.

Buckets are computed here exactly as the BPF side computes them (bpftrace's ``hist()``
and ``lhist()`` indexing), so a map of bucket counts read back from either engine prints
the same as bpftrace would print it. Two layouts: bpftrace's (``[4, 8)   3 |@@@  |``,
only the populated range) and BCC's ``print_log2_hist`` (``4 -> 7 : 3 |***  |``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pybpf.output.errors import OutputError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

_BAR_WIDTH = 52          # bpftrace's bar
_BCC_BAR_WIDTH = 40      # BCC's bar for histograms of at most 32 buckets
_UNITS = ((1 << 60, "E"), (1 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K"))


class HistogramError(OutputError):
    """A histogram defined or filled with values it cannot hold."""


def log2_bucket(value: int) -> int:
    """bpftrace's ``hist()`` index: 0 for negatives, 1 for 0, 2 for 1, then k + 2 for
    values in [2^k, 2^(k+1))."""
    if value < 0:
        return 0
    if value == 0:
        return 1
    return value.bit_length() + 1


def linear_bucket(value: int, low: int, high: int, step: int) -> int:
    """bpftrace's ``lhist(value, min, max, step)`` index: 0 below ``min``, one bucket per
    step, and the last one for values at or above ``max``."""
    if value < low:
        return 0
    if value >= high:
        return (high - low + step - 1) // step + 1
    return (value - low) // step + 1


def number_label(n: int) -> str:
    """``1K``, ``3M``, ``12`` — a bound as bpftrace prints it (units of 1024 when exact)."""
    for unit, suffix in _UNITS:
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


@dataclass
class Histogram:
    """Counts by bucket index, for a log2 histogram (``linear=None``) or a linear one
    (``linear=(min, max, step)``)."""

    linear: tuple[int, int, int] | None = None
    counts: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.linear is not None:
            low, high, step = self.linear
            if step <= 0 or high <= low:
                raise HistogramError(f"linear histogram needs min < max and step > 0, got {self.linear}")

    @classmethod
    def of(cls, values: Iterable[int], linear: tuple[int, int, int] | None = None) -> Histogram:
        """A histogram of ``values``."""
        hist = cls(linear)
        for value in values:
            hist.add(value)
        return hist

    def bucket(self, value: int) -> int:
        """The bucket index ``value`` falls in."""
        return log2_bucket(value) if self.linear is None else linear_bucket(value, *self.linear)

    def add(self, value: int, count: int = 1) -> None:
        """Count ``value`` ``count`` times."""
        index = self.bucket(value)
        self.counts[index] = self.counts.get(index, 0) + count

    def label(self, index: int) -> str:
        """The bucket's range as bpftrace prints it: ``[4, 8)``, ``[0]``, ``(..., 0)``."""
        if self.linear is None:
            if index == 0:
                return "(..., 0)"
            if index <= 2:
                return f"[{index - 1}]"
            return f"[{number_label(1 << (index - 2))}, {number_label(1 << (index - 1))})"
        low, high, step = self.linear
        last = linear_bucket(high, low, high, step)
        if index == 0:
            return f"(..., {number_label(low)})"
        if index == last:
            return f"[{number_label(high)}, ...)"
        start = low + (index - 1) * step
        return f"[{number_label(start)}, {number_label(min(start + step, high))})"

    def ranges(self) -> list[tuple[int | None, int | None, int]]:
        """Populated buckets as ``(low, high, count)``, bounds inclusive (None: unbounded),
        in bucket order — for JSON."""
        rows: list[tuple[int | None, int | None, int]] = []
        for index in sorted(i for i, c in self.counts.items() if c):
            low: int | None
            high: int | None
            if self.linear is None:
                low, high = (None, -1) if index == 0 else (0, 0) if index == 1 else (1 << (index - 2), (1 << (index - 1)) - 1)
            else:
                start, stop, step = self.linear
                last = linear_bucket(stop, start, stop, step)
                first = start + (index - 1) * step
                low, high = ((None, start - 1) if index == 0 else (stop, None) if index == last
                             else (first, min(first + step, stop) - 1))
            rows.append((low, high, self.counts[index]))
        return rows

    def format(self) -> str:
        """bpftrace's layout: one row per bucket from the first to the last populated."""
        populated = [i for i, c in self.counts.items() if c]
        if not populated:
            return ""
        peak = max(self.counts.values())
        rows = []
        for index in range(min(populated), max(populated) + 1):
            count = self.counts.get(index, 0)
            bar = "@" * (count * _BAR_WIDTH // peak)
            rows.append(f"{self.label(index):<16}{count:>8} |{bar:<{_BAR_WIDTH}}|\n")
        return "".join(rows)

    def format_bcc(self, unit: str = "value") -> str:
        """BCC's ``print_log2_hist`` layout (log2 histograms of non-negative values)."""
        if self.linear is not None:
            raise HistogramError("the BCC layout is for log2 histograms")
        if self.counts.get(0):
            raise HistogramError("the BCC layout cannot show negative values")
        populated = [i for i, c in self.counts.items() if c]
        # BCC's index is ours minus one, except that 0 and 1 share BCC's first row
        top = max(max(populated) - 1, 1) if populated else 0
        # BCC's row i holds values in [2^(i-1), 2^i - 1]; its first row is 0 -> 1
        rows = [(0 if i == 1 else (1 << i) >> 1, (1 << i) - 1,
                 self.counts.get(i + 1, 0) + (self.counts.get(1, 0) if i == 1 else 0)) for i in range(1, top + 1)]
        peak = max((count for _, _, count in rows), default=0)
        wide = top > 32
        width, bar_width = (20, 20) if wide else (10, _BCC_BAR_WIDTH)
        lines = [f"{' ' * (width - 5)}{unit:<{width + 9}} : count     distribution\n"]
        for low, high, count in rows:
            stars = "*" * int(count / peak * bar_width) if peak else ""
            lines.append(f"{low:>{width}} -> {high:<{width}} : {count:<8} |{stars:<{bar_width}}|\n")
        return "".join(lines)

    def format_bcc_linear(self, label: str = "value") -> str:
        """BCC's ``print_linear_hist`` layout (linear histograms): one row per bucket from
        the histogram's minimum to the last populated, named by the bucket's lowest value."""
        if self.linear is None:
            raise HistogramError("the BCC linear layout is for linear histograms")
        populated = [i for i, c in self.counts.items() if c]
        if not populated:
            return ""
        if self.counts.get(0):
            raise HistogramError(f"the BCC linear layout cannot show values below {self.linear[0]}")
        low, _, step = self.linear
        peak = max(self.counts.values())
        lines = [f"     {label:<13} : count     distribution\n"]
        for index in range(1, max(populated) + 1):
            count = self.counts.get(index, 0)
            stars = "*" * int(count / peak * _BCC_BAR_WIDTH)
            lines.append(f"        {low + (index - 1) * step:<10} : {count:<8} |{stars:<{_BCC_BAR_WIDTH}}|\n")
        return "".join(lines)


def format_map(name: str, histograms: Mapping[tuple, Histogram] | Histogram) -> str:
    """A bpftrace map print: ``@name: `` (or ``@name[k1, k2]: `` per key) then the rows
    and a blank line, keys in sorted order."""
    if isinstance(histograms, Histogram):
        return f"@{name}: \n{histograms.format()}\n"
    out = []
    for key in sorted(histograms):
        keys = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        out.append(f"@{name}[{keys}]: \n{histograms[key].format()}\n")
    return "".join(out)
