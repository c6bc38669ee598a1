"""USDT probes in the trace language: Debian's /usr/bin/python3.11 (built with probes)
runs a script calling a uniquely named function, and ``pybpf trace`` reads each
``python:function__return``'s arguments — file name and function name (pointers in
registers), line number (a 32-bit register) — and expands globs in probe names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from python_script import MARKS, python_script

SRC = str(Path(__file__).resolve().parents[2] / "src")
pytestmark = MARKS


@pytest.fixture
def script(tmp_path):
    with python_script(tmp_path / "pybpf_toolsuser_usdt.py", "pybpf_toolsuser_usdt_target", 0.02) as running:
        yield running


def _trace(program: str, pid: int) -> str:
    ran = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace", "-p", str(pid), "-e", program],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_usdt_arguments(script):
    process, path = script
    out = _trace('usdt:/usr/bin/python3.11:python:function__return /str(arg1) == "pybpf_toolsuser_usdt_target"/ '
                 '{ @[str(arg0), str(arg1), arg2] = count(); } interval:s:1 { exit(); }', process.pid)
    (line,) = [line for line in out.splitlines() if line.startswith("@[")]
    key, count = line.rsplit(": ", 1)
    # str() keeps 63 characters and the NUL (bpftrace's BPFTRACE_STRLEN); the return is on line 4
    assert key == f"@[{path[:63]}, pybpf_toolsuser_usdt_target, 4]" and int(count) >= 10


def test_usdt_name_globs_and_missing_argument(script):
    process, _ = script
    out = _trace("usdt:/usr/bin/python3.11:function__*,usdt:/usr/bin/python3.11:python:gc__done { @[probe] = count(); } "
                 "interval:s:1 { exit(); }", process.pid)
    assert out.splitlines()[0] == "Attaching 4 probes..."       # function__entry, function__return, gc__done, interval
    assert "@[usdt:/usr/bin/python3.11:python:function__return]: " in out
    bad = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace", "-e",
                          "usdt:/usr/bin/python3.11:python:gc__done { print(arg3); }"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, timeout=60, check=False)
    assert bad.returncode == 1 and "python:gc__done has 1 argument: there is no arg3" in bad.stderr
