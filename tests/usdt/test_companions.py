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
