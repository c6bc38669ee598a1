"""Probes that need another probe's semaphore raised: CPython 3.11's function__entry
needs python:line's (pybpf.usdt.companions), read from the real binary when installed."""

from __future__ import annotations

import os

import pytest

from pybpf.usdt import find_probe
from pybpf.usdt.companions import _python_version, companion_sites

PYTHON311 = "/usr/bin/python3.11"
needs_python311 = pytest.mark.skipif(not os.path.exists(PYTHON311), reason=f"{PYTHON311} is not installed")


@needs_python311
def test_cpython_311_function_entry_needs_the_line_semaphore():
    entry = find_probe(PYTHON311, "function__entry", "python")[0]
    line_sites = find_probe(PYTHON311, "line", "python")
    assert companion_sites(entry) == [s for s in line_sites if s.semaphore_offset] != []
    assert companion_sites(find_probe(PYTHON311, "function__return", "python")[0]) == []


@needs_python311
def test_python_version_from_py_version():
    assert _python_version(PYTHON311) == (3, 11)


def test_binaries_without_py_version_have_no_python_version():
    assert _python_version("/bin/sh") is None
    assert _python_version("/no/such/file") is None


@needs_python311
@pytest.mark.skipif(os.geteuid() != 0, reason="uprobes need root")
def test_function_entry_fires_when_attached_through_pybpf_trace(tmp_path):
    """attach_usdt_site holds line's semaphore itself, so any front end sees entries."""
    import subprocess
    import sys

    script = tmp_path / "calls.py"
    script.write_text("import time\ndef f(): pass\ntime.sleep(0.3)\nfor i in range(700): f()\n")
    program = "".join(f'usdt:{PYTHON311}:python:function__{kind} /str(arg1) == "f"/ {{ @{kind} = count(); }} '
                      for kind in ("entry", "return"))
    result = subprocess.run([sys.executable, "-m", "pybpf", "trace", "-e", program, "-c", f"{PYTHON311} {script}"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "@entry: 700" in result.stdout and "@return: 700" in result.stdout
