"""oomkill, run as ``pybpf tool oomkill`` while a process in a small memory cgroup of the
test's own allocates beyond its limit: its kill shows up as BCC's line and in ``--json``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from toolsnet_helpers import json_lines, memory_cgroup, memory_cgroup_available, tool_output

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only"),
              pytest.mark.skipif(not Path("/sys/kernel/tracing/events/oom/mark_victim").exists(),
                                 reason="no oom:mark_victim tracepoint"),
              pytest.mark.skipif(not memory_cgroup_available(), reason="no memory cgroup controller")]

NAME = "toolsnet_oom"
#: a Python program that names itself NAME and allocates 400 MB, a megabyte at a time
HOG = f"import ctypes\nctypes.CDLL(None).prctl(15, b'{NAME}', 0, 0, 0)\nx = [bytearray(1 << 20) for i in range(400)]\n"


def _hogs(cgroup: Path, directory: Path) -> list[str]:
    """A workload: the hog, run again and again inside ``cgroup``."""
    script = directory / "hog.py"
    script.write_text(HOG)
    return ["sh", "-c", f'while true; do sh -c \'echo $$ > "{cgroup}/cgroup.procs" && exec "{sys.executable}" "{script}"\'; '
            "sleep 0.3; done"]


def test_oomkill_line(tmp_path):
    with memory_cgroup(48 << 20) as cgroup:
        out = tool_output("oomkill", [], _hogs(cgroup, tmp_path), duration=4)
    assert out.splitlines()[0] == "Tracing OOM kills... Ctrl-C to stop."
    kills = [line for line in out.splitlines()[1:] if 'OOM kill of PID' in line and f'("{NAME}")' in line]
    assert kills, out
    for line in kills:
        trigger, victim = line.split("Triggered by PID ")[1].split(", OOM kill of PID ")
        assert trigger.split()[0].isdigit() and victim.split()[0].isdigit()
        assert "pages, loadavg: " in line


def test_oomkill_json(tmp_path):
    with memory_cgroup(48 << 20) as cgroup:
        events = json_lines(tool_output("oomkill", ["--json"], _hogs(cgroup, tmp_path), duration=4))
    ours = [e for e in events if e["tcomm"] == NAME]
    assert ours, events
    for event in ours:
        # the victim is the hog, killed in its own allocation; it used about the limit
        assert event["tpid"] == event["pid"] and event["comm"] == NAME
        assert 16 << 10 <= event["anon_rss_kb"] <= 64 << 10
        assert event["total_vm_kb"] >= event["anon_rss_kb"] and event["uid"] == 0
