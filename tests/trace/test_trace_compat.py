"""Behaviours of bpftrace 0.17 that its runtime tests rely on, each compared with the
bpftrace installed on this machine (root; skipped where either is missing): the tracer's
comm, ``-c`` word splitting, ``debugf``, ``-k`` helper-error warnings, tuple and struct
layouts as printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tracing programs need root")
SRC = Path(__file__).resolve().parents[2] / "src"
BPFTRACE = shutil.which("bpftrace")
needs_bpftrace = pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
sys.path.insert(0, str(Path(__file__).parent))
from bpftrace_runtime import drop_in  # noqa: E402


def pybpf_trace(*args: str, tracer: str = "", timeout: float = 30) -> subprocess.CompletedProcess:
    command = [tracer] if tracer else [sys.executable, "-m", "pybpf", "trace"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(SRC)), check=False)


def bpftrace(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    assert BPFTRACE is not None
    return subprocess.run([BPFTRACE, *args], capture_output=True, text=True, timeout=timeout, check=False)


COMM = 'BEGIN { printf("%s\\n", comm); print(comm); exit() }'


def test_comm_of_begin_is_pybpf_not_the_interpreter():
    result = pybpf_trace("-q", "-e", COMM)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["pybpf", "pybpf"]


@needs_bpftrace
def test_comm_of_a_drop_in_named_bpftrace_is_bpftraces(tmp_path):
    for args in (("-q", "-e", COMM), ("-q", "-f", "json", "-e", COMM)):
        ours, theirs = pybpf_trace(*args, tracer=drop_in(tmp_path)), bpftrace(*args)
        assert theirs.returncode == 0, theirs.stderr
        assert ours.stdout == theirs.stdout


@needs_bpftrace
@pytest.mark.parametrize("command", ["/bin/echo 'A'  b", '/bin/echo "x y" z', "/bin/echo  lead"])
def test_c_command_split_at_spaces_keeping_quotes_as_bpftrace(command):
    ours, theirs = pybpf_trace("-q", "-c", command, "-e", "END {}"), bpftrace("-q", "-c", command, "-e", "END {}")
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode
