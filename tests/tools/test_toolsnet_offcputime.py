"""offcputime, run as ``pybpf tool offcputime`` on a process of the test's own that
sleeps again and again: its sleeping stack shows up with about the time it slept, in the
multi-line, folded, JSON and flame graph outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from toolsnet_helpers import json_lines, tool_output

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")

NAME = "toolsnet_sleep"
SLEEPER = (f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{NAME}', 0, 0, 0)\n"
           "while True:\n    time.sleep(0.02)\n")
DURATION = 3.0


@pytest.fixture
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", SLEEPER])
    time.sleep(0.3)
    yield process.pid
    process.kill()
    process.wait()


def test_offcputime_folded_stacks_of_a_sleeper(sleeper):
    out = tool_output("offcputime", [str(DURATION), "-p", str(sleeper), "-f"], timing=[])
    lines = [line.rsplit(" ", 1) for line in out.splitlines() if line.strip()]
    assert lines and all(frames.startswith(NAME + ";") for frames, _ in lines), out
    sleeping = [(frames, int(usecs)) for frames, usecs in lines if "schedule" in frames and "nanosleep" in frames]
    assert sleeping, out
    assert not any("bpf_prog_" in frames for frames, _ in lines)      # the tracing frames are cut
    # it sleeps nearly all the time: the off-CPU total is most of the traced time, never
    # more (the probes are attached a little before the duration starts and detached a
    # little after it ends: up to a second more on a busy machine)
    total = sum(int(usecs) for _, usecs in lines)
    assert 0.3 * DURATION * 1e6 < total <= (DURATION + 1) * 1e6, total


def test_offcputime_default_json_and_svg(sleeper, tmp_path):
    out = tool_output("offcputime", ["2", "-p", str(sleeper)], timing=[])
    assert out.startswith("Tracing off-CPU time (us)")
    assert f"-                {NAME} ({sleeper})" in out and "    schedule\n" in out
    svg = tmp_path / "offcpu.svg"
    stacks = json_lines(tool_output("offcputime", ["2", "-p", str(sleeper), "-K", "--json", "--svg", str(svg)],
                                    timing=[]))
    assert stacks and all(s["pid"] == sleeper and s["comm"] == NAME and s["usecs"] > 0 for s in stacks)
    assert any("schedule" in s["stack"] for s in stacks)
    assert svg.read_text().startswith("<?xml") and "schedule" in svg.read_text()


def test_offcputime_minimum_block_time_filters(sleeper):
    # each sleep is ~20 ms: with -m 1000000 (one second) none is long enough
    out = tool_output("offcputime", ["2", "-p", str(sleeper), "-f", "-m", "1000000"], timing=[])
    assert out.strip() == ""
