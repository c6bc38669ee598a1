"""pythoncalls and pythonflow on a Debian python3.11 (built with USDT probes) running a
script that calls a uniquely named function: the calls are counted and the returns
flow out, in the table and in ``--json``. CPython 3.11 fires no ``function__entry``
(python/cpython#98894), so what is checked is what it fires."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from test_tools import SRC, run_tool, side_by_side

from python_script import MARKS, python_script

pytestmark = MARKS


@pytest.fixture
def script(tmp_path):
    with python_script(tmp_path / "pybpf_toolsuser_script.py", "pybpf_toolsuser_called", 0.05) as running:
        yield running


@pytest.fixture(scope="module")
def python_runs(tmp_path_factory):
    """pythoncalls and pythonflow runs of the tests below, side by side on one script:
    ``(process, path, {name: output})``."""
    folder = tmp_path_factory.mktemp("python")
    with python_script(folder / "pybpf_toolsuser_script.py", "pybpf_toolsuser_called", 0.05) as (process, path):
        pid = str(process.pid)
        return process, path, side_by_side({
            "calls": ("pythoncalls", ["-d", "2.5", pid]),
            "calls json": ("pythoncalls", ["-d", "3.5", "--json", pid, "1"]),
            "flow": ("pythonflow", ["-d", "2.5", pid, "-M", "pybpf_toolsuser"]),
            "flow json": ("pythonflow", ["-d", "2.5", "--json", pid, "-C", path])}, lambda: None, timing=[])


def test_pythoncalls(python_runs):
    process, path, runs = python_runs
    lines = runs["calls"].splitlines()
    assert lines[0] == f"Tracing calls in process {process.pid} (language: python)... Ctrl-C to quit."
    assert lines[2].split() == ["METHOD", "#", "CALLS"]
    rows = dict(line.rsplit(None, 1) for line in lines[3:])
    assert int(rows[f"{path}.pybpf_toolsuser_called"]) >= 10


def test_pythoncalls_json_intervals(python_runs):
    process, path, runs = python_runs
    intervals = [json.loads(line) for line in runs["calls json"].splitlines()]
    assert len(intervals) >= 3
    counted = [row["calls"] for interval in intervals for row in interval["calls"]
               if row["method"] == f"{path}.pybpf_toolsuser_called"]
    assert len(counted) >= 2 and all(0 < n <= 25 for n in counted)     # cleared each interval (about 20 per second)


def test_pythonflow(python_runs):
    process, path, runs = python_runs
    lines = runs["flow"].splitlines()
    assert lines[1].split() == ["CPU", "PID", "TID", "TIME(us)", "METHOD"]
    rows = [line.split() for line in lines[2:]]
    assert len(rows) >= 10
    assert all(row[1] == row[2] == str(process.pid) and row[-1] == f"{path}.pybpf_toolsuser_called" for row in rows)
    assert {row[-2] for row in rows} == {"->", "<-"}    # CPython 3.11 fires entries too (companions)


def test_pythonflow_json(python_runs):
    process, path, runs = python_runs
    events = [json.loads(line) for line in runs["flow json"].splitlines()]
    assert any(e["function"] == "pybpf_toolsuser_called" and e["direction"] == "return" for e in events)
    assert all(e["pid"] == process.pid and e["file"].startswith(path) for e in events)


def test_pythoncalls_pythonflow_refuse_a_python_without_probes():
    import sys

    child = subprocess.Popen(["sleep", "30"])
    try:
        ran = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "pythonflow", str(child.pid)], capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": SRC}, check=False, timeout=60)
    finally:
        child.kill()
        child.wait()
    assert ran.returncode == 1
    assert ran.stderr.startswith(f"pybpf tool: error: process {child.pid} (") and "no python:function__entry USDT" in ran.stderr


def test_trace_and_argdist_read_usdt_arguments(script):
    process, path = script
    out = run_tool("trace", ["-p", str(process.pid), 'u:/usr/bin/python3.11:function__return "%s line %d", arg2, arg3'],
                   lambda: None, timing=["--duration", "2"])
    rows = [line.split(None, 4) for line in out.splitlines()[1:]]
    assert rows and all(row[3] == "function__return" and row[4] == "pybpf_toolsuser_called line 4" for row in rows)
    out = run_tool("argdist", ["-p", str(process.pid), "-i", "5", "-C", "u:/usr/bin/python3.11:function__return():char*:arg2"],
                   lambda: None, timing=["-d", "2"])
    assert any(line.split(None, 1)[1] == "arg2 = pybpf_toolsuser_called" for line in out.splitlines() if line.startswith("\t") and "=" in line)
