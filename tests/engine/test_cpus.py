"""The possible-CPU list format."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.engine.cpus import parse_cpu_list, possible_cpus
from pybpf.errors import PybpfError


@pytest.mark.parametrize("text,cpus", [
    ("0", [0]), ("0-3\n", [0, 1, 2, 3]), ("0,2-3", [0, 2, 3]), ("0-1,4", [0, 1, 4]),
])
def test_cpu_lists(text, cpus):
    assert parse_cpu_list(text) == cpus


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 20)), min_size=1, max_size=5))
def test_ranges_expand(ranges):
    text = ",".join(f"{a}-{a + n}" if n else str(a) for a, n in ranges)
    assert parse_cpu_list(text) == [c for a, n in ranges for c in range(a, a + n + 1)]


@pytest.mark.parametrize("text", ["", "a", "3-1", "1-"])
def test_malformed_lists(text):
    with pytest.raises(PybpfError, match="bad CPU list"):
        parse_cpu_list(text)


def test_possible_cpus_reads_sysfs():
    with open("/sys/devices/system/cpu/possible") as f:
        assert possible_cpus() == max(parse_cpu_list(f.read())) + 1
