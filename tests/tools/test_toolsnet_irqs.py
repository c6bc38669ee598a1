"""hardirqs and softirqs, run as ``pybpf tool NAME`` while the test makes interrupts
(direct writes to a file, which the disk completes with interrupts; loopback TCP, which
runs in the NET_RX softirq): totals, counts checked against /proc/interrupts, histograms and
``--json``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from toolsnet_helpers import in_netns, interrupt_counts, json_lines, netns, rows, tcp_sessions, tool_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")
needs_hardirq = pytest.mark.skipif(not Path("/sys/kernel/tracing/events/irq/irq_handler_entry").exists(),
                                   reason="no irq:irq_handler_entry tracepoint")
needs_softirq = pytest.mark.skipif(not Path("/sys/kernel/tracing/events/irq/softirq_entry").exists(),
                                   reason="no irq:softirq_entry tracepoint")


def _disk_writes(directory: Path) -> list[str]:
    target = directory / "toolsnet-irq-target"
    return ["sh", "-c", f"while true; do dd if=/dev/zero of={target} bs=4k count=64 oflag=direct 2>/dev/null; done"]


@needs_hardirq
def test_hardirqs_counts_agree_with_proc_interrupts(tmp_path):
    before = interrupt_counts()
    out = tool_output("hardirqs", ["-C"], _disk_writes(tmp_path), timing=["--duration", "3"])
    after = interrupt_counts()
    lines = out.splitlines()
    assert lines[0] == "Tracing hard irq event time... Hit Ctrl-C to end."
    assert lines[2].split() == ["HARDIRQ", "TOTAL_count"]
    counted = {row[0]: int(row[1]) for row in rows("\n".join(lines[2:]))}
    assert counted and max(counted.values()) >= 50, out          # the disk's completions, at least
    checked = [name for name in counted if name in after]
    assert checked, (counted, after)
    for name in checked:
        assert 1 <= counted[name] <= after[name] - before.get(name, 0), name


@needs_hardirq
def test_hardirqs_times_and_json_histograms(tmp_path):
    out = tool_output("hardirqs", [], _disk_writes(tmp_path), timing=["--duration", "2.5"])
    totals = rows("\n".join(out.splitlines()[2:]))
    assert totals and all(int(row[-1]) >= 0 for row in totals) and out.splitlines()[2].split()[1] == "TOTAL_usecs"
    report = json_lines(tool_output("hardirqs", ["--json", "-d"], _disk_writes(tmp_path), timing=["--duration", "2.5"]))
    assert len(report) == 1 and report[0]["unit"] == "usecs"
    busiest = max(report[0]["histograms"], key=lambda h: sum(b["count"] for b in h["buckets"]))
    assert busiest["hardirq"] and sum(b["count"] for b in busiest["buckets"]) >= 50
    assert all(b["low"] <= b["high"] for b in busiest["buckets"])


@needs_softirq
def test_softirqs_sees_net_rx_of_loopback_tcp():
    with netns() as ns:
        out = tool_output("softirqs", ["-C"], in_netns(ns, tcp_sessions(47312)), timing=["--duration", "3"])
    counted = {row[0]: int(row[1]) for row in rows("\n".join(out.splitlines()[2:]))}
    assert counted.get("net_rx", 0) >= 10, out
    assert set(counted) <= {"hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu"}


@needs_softirq
def test_softirqs_json_intervals_and_distributions():
    with netns() as ns:
        workload = in_netns(ns, tcp_sessions(47313))
        reports = json_lines(tool_output("softirqs", ["--json", "1", "2"], workload, timing=[]))
        assert len(reports) == 2 and all(report["unit"] == "usecs" for report in reports)
        assert any(row["softirq"] == "net_rx" and row["total"] >= 0 for row in reports[0]["rows"])
        out = tool_output("softirqs", ["-d", "-N"], workload, timing=["--duration", "2.5"])
    assert "softirq = net_rx" in out and "nsecs" in out and "distribution" in out


def test_hardirqs_refuses_a_cpu_that_does_not_exist():
    import subprocess
    import sys

    from toolsnet_helpers import PYTHON_ENV

    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "hardirqs", "-c", "4096"],
                            capture_output=True, text=True, env=PYTHON_ENV, timeout=60)
    assert result.returncode != 0 and "-c 4096" in result.stderr and "Traceback" not in result.stderr
