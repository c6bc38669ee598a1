"""runqlen, run as ``pybpf tool runqlen`` while the test keeps six busy loops on CPU 0:
CPU 0's run queue holds the five waiting, in the histogram, the occupancy and ``--json``;
and BCC's linear histogram layout it prints."""

from __future__ import annotations

import os
import subprocess

import pytest
from toolsnet_helpers import json_lines, tool_output

from pybpf.output import Histogram

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")

#: six busy loops pinned to CPU 0, in the test's own session (one scheduler group)
BUSY = ["sh", "-c", "for i in 1 2 3 4 5 6; do taskset -c 0 sh -c 'while :; do :; done' & done; wait"]


@pytest.fixture
def busy_cpu0():
    process = subprocess.Popen(BUSY, start_new_session=False)
    yield
    subprocess.run(["pkill", "-P", str(process.pid)], check=False)     # the loops are its children
    process.kill()
    process.wait()


@root_only
def test_runqlen_per_cpu_sees_the_queue_on_cpu0(busy_cpu0):
    out = tool_output("runqlen", ["-C"], duration=3)
    assert out.splitlines()[0] == "Sampling run queue length... Hit Ctrl-C to end."
    cpu0 = out.split("cpu = 0\n")[1].split("cpu = ")[0]
    assert cpu0.splitlines()[0].split() == ["runqlen", ":", "count", "distribution"]
    lengths = {int(line.split()[0]): int(line.split()[2]) for line in cpu0.splitlines()[1:] if line.strip()}
    # samples taken while one of the loops runs see the other five queued (on a busy machine
    # other scheduler groups share CPU 0 and their samples see their own queues)
    waiting = sum(count for length, count in lengths.items() if length >= 3)
    assert waiting >= 5, out


@root_only
def test_runqlen_json_and_occupancy(busy_cpu0):
    reports = json_lines(tool_output("runqlen", ["-C", "--json", "1", "2"], timing=[]))
    assert len(reports) == 2
    cpu0 = next(entry for entry in reports[-1]["runqlen"] if entry["cpu"] == 0)
    assert cpu0["runqocc"] > 0 and max(b["high"] for b in cpu0["buckets"]) >= 3
    out = tool_output("runqlen", ["-O", "-C"], duration=2)
    occupancy = {int(line.split()[2]): float(line.split()[3].rstrip("%")) for line in out.splitlines()
                 if line.startswith("runqocc, CPU")}
    assert set(occupancy) == set(range(os.cpu_count() or 1)) and occupancy[0] > 0, out


def test_bcc_linear_layout_rows_from_the_minimum_to_the_last_populated():
    text = Histogram.of([2, 2, 3, 5], linear=(1, 100, 1)).format_bcc_linear("runqlen")
    assert text.splitlines() == [
        "     runqlen       : count     distribution",
        "        1          : 0        |                                        |",
        "        2          : 2        |****************************************|",
        "        3          : 1        |********************                    |",
        "        4          : 0        |                                        |",
        "        5          : 1        |********************                    |",
    ]
    assert Histogram(linear=(0, 10, 1)).format_bcc_linear() == ""
