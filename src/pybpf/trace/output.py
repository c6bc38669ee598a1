"""Map printing exactly as bpftrace 0.17 prints at exit and on print(@map): maps in name
order; count/sum/min/max/integer maps sorted by value, avg/stats by average, hist/lhist by
their total count, others by key; histogram bars of 52 ``@`` scaled to the largest bucket.

Maps arrive as raw (key bytes, value bytes or per-CPU list of value bytes) pairs, decoded
with the layouts of :mod:`pybpf.trace.codegen`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable

from pybpf.trace.codegen import BUCKETED, MapInfo
from pybpf.trace.cxx_sort import cxx_sort
from pybpf.trace.types import T, decode

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

_BAR = 52


def _values(raw: object) -> list[bytes]:
    return list(raw) if isinstance(raw, list) else [raw]  # type: ignore[arg-type]


def _sum(raw: object, signed: bool = True) -> int:
    total = sum(struct.unpack_from("<q" if signed else "<Q", v)[0] for v in _values(raw))
    return total


def show(value: object, t: T, style: str = "text") -> str:
    """A key or value as bpftrace shows it in map output and print() (``style``: "text",
    "json" or "key", which callers that render structs tell apart)."""
    if t.kind == "tuple":
        return "(" + ", ".join(show(v, i, style) for v, i in zip(value, t.items)) + ")"  # type: ignore[arg-type]
    return str(value)


def _key_text(info: MapInfo, key: bytes, shown: Callable = show) -> str:
    if not info.keys:
        return info.name
    parts, at = [], 0
    for t in info.keys:
        parts.append(shown(decode(t, key, at), t, "key"))
        at += t.slot
    return f"{info.name}[{', '.join(parts)}]"


def _sort_by_key(info: MapInfo, rows: list) -> list:
    """bpftrace's sort_by_key: last key argument first, stable (ints unsigned, strings bytewise)."""
    offsets, at = [], 0
    for t in info.keys:
        offsets.append(at)
        at += t.slot
    for t, offset in reversed(list(zip(info.keys, offsets))):
        if t.kind == "str":
            rows.sort(key=lambda r: r[0][offset:offset + t.size].split(b"\0", 1)[0])
        elif t.kind == "int":
            rows.sort(key=lambda r: struct.unpack_from("<Q", r[0], offset)[0])
    return rows


def hist_text(buckets: dict[int, int], div: int = 1, bits: int = 0) -> str:
    """bpftrace's log2 histogram; ``bits`` (hist's second argument) splits each power of
    two into 2^bits linear buckets."""
    if not any(v > 0 for v in buckets.values()):
        return ""
    present = [i for i, v in buckets.items() if v > 0]
    low, high = min(present), max(present)
    top = max(buckets.values())
    lines = []
    for i in range(low, high + 1):
        count = buckets.get(i, 0)
        if i == 0:
            label = "(..., 0)"
        elif i <= 2 << bits:
            label = f"[{i - 1}]"
        else:
            label = f"[{_hist_label(i - 1, bits)}, {_hist_label(i, bits)})"
        lines.append(_bar_line(label, count // max(div, 1), count, top))
    return "".join(lines)


def _hist_start(index: int, bits: int) -> int:
    """The first value of hist bucket ``index`` (past the one-value buckets): each power
    of two 2^p is cut into 2^bits intervals of 2^(p-bits)."""
    n = 1 << bits
    return (1 << ((index >> bits) - 1)) * (n + (index & (n - 1)))


def _hist_label(index: int, bits: int) -> str:
    n = 1 << bits
    power = (index >> bits) - 1
    decade = min(power // 10, 6)
    number = (1 << (power - 10 * decade)) * (n + (index & (n - 1)))
    return f"{number}{' KMGTPE'[decade].strip()}"


def lhist_text(buckets: dict[int, int], low: int, high: int, step: int) -> str:
    if not any(buckets.values()):
        return ""
    top = max(buckets.values())
    edges = (high - low) // step
    present = [i for i in range(edges + 2) if buckets.get(i, 0) > 0]
    if not present:
        return ""
    lines = []
    for i in range(present[0], present[-1] + 1):
        if i == 0:
            label = f"(..., {_linear_label(low)})"
        elif i == edges + 1:
            label = f"[{_linear_label(high)}, ...)"
        else:
            label = f"[{_linear_label((i - 1) * step + low)}, {_linear_label(i * step + low)})"
        lines.append(_bar_line(label, buckets.get(i, 0), buckets.get(i, 0), top))
    return "".join(lines)


def _bar_line(label: str, shown: int, count: int, top: int) -> str:
    # bpftrace computes the width in single-precision float, then truncates
    width = int(struct.unpack("f", struct.pack("f", count / struct.unpack("f", struct.pack("f", top))[0]))[0] * _BAR)
    return f"{label:<16}{shown:>8} |{'@' * width:<{_BAR}}|\n"


def _linear_label(number: int) -> str:
    if number == 0:
        return "0"
    if number % 1048576 == 0:
        return f"{number // 1048576}M"
    if number % 1024 == 0:
        return f"{number // 1024}K"
    return str(number)


def _reduce_min_max(raw: object, kind: str) -> int:
    found = [struct.unpack_from("<q", v)[0] for v in _values(raw) if struct.unpack_from("<Q", v, 8)[0]]
    if not found:
        return 0
    return min(found) if kind == "min" else max(found)


def _rows(info: MapInfo, items: Iterable[tuple[bytes, object]], top: int = 0) -> list[tuple[bytes, Any]]:
    """A map's entries in bpftrace's print order (text and JSON alike), the last ``top``
    when given: (key, buckets) for hist/lhist/avg/stats, sorted by total count or by
    average; (key, integer) for count/sum/min/max and integer maps, sorted by value;
    (key, decoded value) for the others, sorted by key. bpftrace sorts the values in the
    kernel's hash order, so ties come out in any order; here in key order."""
    rows = sorted(items, key=lambda r: r[0])
    kind = info.aggregation
    if kind == "count" and not info.keys and not rows:
        rows = [(bytes(info.key_size), [bytes(8)])]  # bpftrace's keyless count is an array: always there
    out: list[tuple[bytes, Any]]
    if kind in BUCKETED:
        groups: dict[bytes, dict[int, int]] = {}
        for key, raw in rows:
            prefix, bucket = key[:info.key_size], struct.unpack_from("<Q", key, info.key_size)[0]
            groups.setdefault(prefix, {})[bucket] = _sum(raw)
        # std::sort over the keys in byte order, as bpftrace: ties come out as there
        if kind in ("hist", "lhist"):
            out = cxx_sort(list(groups.items()), key=lambda g: sum(g[1].values()))
        else:
            out = cxx_sort(list(groups.items()), key=lambda g: _average(g[1])[1])
    elif kind in ("count", "sum") or (isinstance(info.value, T) and info.value.kind == "int"):
        signed = kind != "count" and (kind == "sum" or info.value.signed)
        out = sorted(((key, _sum(raw, signed)) for key, raw in _sort_by_key(info, rows)), key=lambda kv: kv[1])
    elif kind in ("min", "max"):
        out = sorted(((key, _reduce_min_max(raw, kind)) for key, raw in _sort_by_key(info, rows)),
                     key=lambda kv: kv[1])
    else:
        assert isinstance(info.value, T)
        out = [(key, decode(info.value, bytes(raw))) for key, raw in _sort_by_key(info, rows)]
    return out[-top:] if top and kind != "stats" else out  # bpftrace ignores top (and div) for stats


def _divided(value: int, div: int) -> int:
    return _c_divide(value, div) if div > 1 else value


def _c_divide(a: int, b: int) -> int:
    """``a / b`` of C's integers: the quotient truncated toward zero."""
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


def _average(buckets: dict[int, int]) -> tuple[int, int, int]:
    """(count, average, total) of an avg/stats entry."""
    count, total = buckets.get(0, 0), buckets.get(1, 0)
    return count, _c_divide(total, count) if count else 0, total


def map_text(info: MapInfo, items: Iterable[tuple[bytes, object]], top: int = 0, div: int = 0,
             shown: Callable = show) -> str:
    """One map's text, as bpftrace prints it (ending with its newline(s))."""
    div = div or 1
    kind = info.aggregation
    rows = _rows(info, items, top)
    if kind in BUCKETED:
        parts = []
        for prefix, buckets in rows:
            name = _key_text(info, prefix, shown)
            if kind == "hist":
                parts.append(f"{name}: \n{hist_text(buckets, div, info.bits)}")
            elif kind == "lhist":
                parts.append(f"{name}: \n{lhist_text(buckets, *info.lhist)}")
            else:
                count, average, total = _average(buckets)
                parts.append(f"{name}: count {count}, average {average}, total {total}" if kind == "stats"
                             else f"{name}: {_divided(average, div)}")
        return "\n".join(parts) + ("\n\n" if kind in ("avg", "stats") else "\n")
    if kind or (isinstance(info.value, T) and info.value.kind == "int"):
        texts = [(key, str(_divided(value, div))) for key, value in rows]
    else:
        texts = [(key, shown(value, info.value)) for key, value in rows]
    stacks = info.value.kind in ("kstack", "ustack", "ksym", "usym") if isinstance(info.value, T) else False
    return ("" if stacks else "\n").join(f"{_key_text(info, key, shown)}: {value}" for key, value in texts) + "\n"


def json_value(value: object, t: T, shown: Callable = show) -> str:
    """A value as bpftrace's JSON output writes it (tuples as compact lists)."""
    if t.kind == "tuple":
        return "[" + ",".join(json_value(v, i, shown) for v, i in zip(value, t.items)) + "]"  # type: ignore[arg-type]
    if t.kind in ("int", "ptr"):
        return str(value)
    if t.kind in ("record", "array"):
        return shown(value, t, "json")  # { "m": 2 } / [1,2]: bpftrace's JSON layout
    return json.dumps(shown(value, t))


def map_json(info: MapInfo, items: Iterable[tuple[bytes, object]], top: int = 0, div: int = 0,
             shown: Callable = show) -> str:
    """bpftrace's ``-f json`` line for one map (empty when the map is), its entries in
    the order the text output prints them."""
    rows = _rows(info, items, top)
    if not rows:
        return ""
    div = div or 1
    kind = info.aggregation
    entries: list[tuple[str, str]] = []
    line_type = "map"
    for key, found in rows:
        if kind in BUCKETED:
            buckets: dict[int, int] = found
            line_type = "hist" if kind in ("hist", "lhist") else "stats"
            if kind == "hist":
                value = json.dumps(_hist_json(buckets, info.bits))
            elif kind == "lhist":
                value = json.dumps(_lhist_json(buckets, *info.lhist))
            else:
                count, average, total = _average(buckets)
                value = json.dumps({"count": count, "average": average, "total": total}) if kind == "stats" \
                    else str(_divided(average, div))
        elif kind or (isinstance(info.value, T) and info.value.kind == "int"):
            value = str(_divided(found, div))
        else:
            value = json_value(found, info.value, shown)
        entries.append((_json_key(info, key, shown), value))
    if info.keys:
        data = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in entries) + "}"
    else:
        data = entries[0][1]
    return f'{{"type": "{line_type}", "data": {{{json.dumps(info.name)}: {data}}}}}'


def _json_key(info: MapInfo, key: bytes, shown: Callable = show) -> str:
    parts, at = [], 0
    for t in info.keys:
        parts.append(shown(decode(t, key, at), t, "key"))
        at += t.slot
    return ",".join(parts)


def _hist_json(buckets: dict[int, int], bits: int = 0) -> list[dict[str, int]]:
    out = []
    present = [i for i, v in buckets.items() if v > 0]
    for i in range(min(present, default=0), max(present, default=-1) + 1):
        count = buckets.get(i, 0)
        if i == 0:
            out.append({"max": -1, "count": count})
        elif i <= 2 << bits:
            out.append({"min": i - 1, "max": i - 1, "count": count})
        else:
            out.append({"min": _hist_start(i - 1, bits), "max": _hist_start(i, bits) - 1, "count": count})
    return out


def _lhist_json(buckets: dict[int, int], low: int, high: int, step: int) -> list[dict[str, int]]:
    edges = (high - low) // step
    present = [i for i in range(edges + 2) if buckets.get(i, 0) > 0]
    out = []
    for i in range(present[0], present[-1] + 1) if present else ():
        count = buckets.get(i, 0)
        if i == 0:
            out.append({"max": low - 1, "count": count})
        elif i == edges + 1:
            out.append({"min": high, "count": count})
        else:
            out.append({"min": (i - 1) * step + low, "max": i * step + low - 1, "count": count})
    return out
