"""Fixtures shared by the BCC script tests (test_scripts.py, test_scripts_triggered.py)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

#: a CPython built with USDT probes (Debian's): the language tools (ucalls, uflow) attach to them
PYTHON_WITH_USDT = "/usr/bin/python3.11"

#: a child whose Python calls the language tools see: each time the test asks (a file
#: holding "OUTER MAPPED"), it calls pybpf_outer OUTER times, each calling pybpf_inner, then
#: pybpf_inner MAPPED times through map() (called from C, not from Python code)
PYTHON_CALLS = """
import os, sys, time
def pybpf_inner(x): return x + 1
def pybpf_outer(x): return pybpf_inner(x) * 2
go = sys.argv[1]
while True:
    if os.path.exists(go):
        with open(go) as asked:
            outer, mapped = map(int, asked.read().split())
        os.unlink(go)
        for i in range(outer):
            pybpf_outer(i)
        list(map(pybpf_inner, range(mapped)))
    time.sleep(0.02)
"""


@dataclass
class PythonCalls:
    """The running child: ``script`` is its file (the tools name its functions
    ``{script}.pybpf_outer``), ``pid`` its process."""

    script: Path
    pid: int
    _go: Path
    _asked: bool = False

    def ask(self, outer: int, mapped: int = 0) -> None:
        """Ask the child for a round of calls (written whole, then renamed into place)."""
        part = self._go.with_suffix(".part")
        part.write_text(f"{outer} {mapped}")
        part.replace(self._go)

    def ask_once(self, outer: int, mapped: int = 0) -> None:
        """Ask for a round the first time only (a trigger called again and again)."""
        if not self._asked:
            self._asked = True
            self.ask(outer, mapped)


@pytest.fixture
def python_with_usdt() -> str:
    """The path of a CPython with USDT probes; skips where there is none."""
    if not os.path.exists(PYTHON_WITH_USDT):
        pytest.skip(f"{PYTHON_WITH_USDT} (with USDT probes) is not installed")
    return PYTHON_WITH_USDT


@pytest.fixture
def python_calls(tmp_path):
    """A child process running :data:`PYTHON_CALLS` under a CPython with USDT probes;
    skips where there is none. (CPython 3.11 fires function__entry only while the
    python:line probe's semaphore is raised, as the tools do.)"""
    if not os.path.exists(PYTHON_WITH_USDT):
        pytest.skip(f"{PYTHON_WITH_USDT} (with USDT probes) is not installed")
    script = tmp_path / "calls.py"
    script.write_text(PYTHON_CALLS)
    go = tmp_path / "go"
    child = subprocess.Popen([PYTHON_WITH_USDT, str(script), str(go)])
    try:
        yield PythonCalls(script, child.pid, go)
    finally:
        child.kill()
        child.wait()
