"""Histograms: bucketing and bpftrace's printing checked against bpftrace itself (golden
output captured from bpftrace v0.17.0, and live where bpftrace runs), BCC's layout from
its documented format, and bucketing properties."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.output.histogram import Histogram, HistogramError, format_map, linear_bucket, log2_bucket, number_label

GOLDEN = Path(__file__).parent / "golden"
_CALL = re.compile(r"@(\w+)(?:\[\"(\w+)\"\])? = (l?hist)\(([-\d, ]+)\)")


def _histograms_of_script(script: str) -> str:
    """Replay the script's hist()/lhist() calls into our histograms, printed as bpftrace does."""
    maps: dict[str, dict] = {}
    for name, key, kind, args in _CALL.findall(script):
        numbers = [int(a) for a in args.split(",")]
        linear = tuple(numbers[1:]) if kind == "lhist" else None
        keyed = maps.setdefault(name, {})
        keyed.setdefault(key or None, Histogram(linear)).add(numbers[0])
    out = []
    for name in sorted(maps):
        keyed = maps[name]
        out.append(format_map(name, keyed[None]) if None in keyed else
                   format_map(name, {(k,): h for k, h in keyed.items()}))
    return "".join(out)


def _strip_banner(text: str) -> str:
    return text.split("Attaching 1 probe...\n", 1)[-1].lstrip("\n")


def test_matches_bpftrace_golden_output():
    script = (GOLDEN / "bpftrace_hist.bt").read_text()
    assert _histograms_of_script(script) == _strip_banner((GOLDEN / "bpftrace_hist.txt").read_text())


@pytest.mark.skipif(shutil.which("bpftrace") is None or os.geteuid() != 0, reason="needs bpftrace and root")
def test_matches_bpftrace_live():
    script = GOLDEN / "bpftrace_hist.bt"
    out = subprocess.run(["bpftrace", str(script)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.skip(f"bpftrace could not run here: {out.stderr.strip().splitlines()[-1:]}")
    assert _histograms_of_script(script.read_text()) == _strip_banner(out.stdout)


def test_bcc_layout():
    text = Histogram.of([0, 1, 2, 3, 5, 9, 100]).format_bcc("usecs")
    lines = text.splitlines()
    assert lines[0] == "     usecs               : count     distribution"
    assert lines[1] == "         0 -> 1          : 2        |****************************************|"
    assert lines[3] == "         4 -> 7          : 1        |********************                    |"
    assert lines[-1].startswith("        64 -> 127        : 1 ")
    assert len(lines) == 8
    wide = Histogram.of([1 << 40]).format_bcc("bytes").splitlines()
    assert wide[0].startswith(" " * 15 + "bytes") and wide[-1].split(":")[0].strip() == f"{1 << 40} -> {(1 << 41) - 1}"
    assert Histogram().format_bcc().count("\n") == 1


def test_errors():
    with pytest.raises(HistogramError, match="min < max and step > 0"):
        Histogram(linear=(10, 10, 1))
    with pytest.raises(HistogramError, match="negative"):
        Histogram.of([-1]).format_bcc()
    with pytest.raises(HistogramError, match="log2"):
        Histogram(linear=(0, 10, 1)).format_bcc()


def test_labels():
    assert [number_label(n) for n in (0, 1, 1023, 1024, 3072, 1 << 20, 1 << 63)] == \
        ["0", "1", "1023", "1K", "3K", "1M", "8E"]
    assert Histogram().format() == ""


@given(st.integers(0, 2**64 - 1))
def test_log2_bucket_bounds(value):
    index = log2_bucket(value)
    if value == 0:
        assert index == 1
    else:
        assert 1 << (index - 2) <= value < 1 << (index - 1)


@given(st.integers(-1000, 1000), st.integers(-100, 100), st.integers(1, 300), st.integers(1, 50))
def test_linear_bucket_bounds(value, low, span, step):
    high = low + span
    index = linear_bucket(value, low, high, step)
    if value < low:
        assert index == 0
    elif value >= high:
        assert index == linear_bucket(high, low, high, step) and index >= 1
    else:
        assert low + (index - 1) * step <= value < low + index * step


def test_bcc_first_row_merges_zero_and_one_and_bars_fit():
    text = Histogram.of([0] * 30 + [1] * 30 + [5] * 10).format_bcc("usecs")
    rows = text.splitlines()[1:]
    assert rows[0] == f"{0:>10} -> {1:<10} : {60:<8} |{'*' * 40}|"
    assert rows[2] == f"{4:>10} -> {7:<10} : {10:<8} |{'*' * 6:<40}|"
    assert all(len(row) == len(rows[0]) for row in rows)


def test_ranges():
    assert Histogram.of([-3, 0, 1, 5, 5]).ranges() == [(None, -1, 1), (0, 0, 1), (1, 1, 1), (4, 7, 2)]
    assert Histogram.of([-1, 0, 15, 99, 100], linear=(0, 100, 10)).ranges() == [
        (None, -1, 1), (0, 9, 1), (10, 19, 1), (90, 99, 1), (100, None, 1)]
