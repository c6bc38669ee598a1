"""What an unprivileged user sees: the EPERM sentence, auto's fallback, a one-line CLI
error. Runs pybpf as uid 65534 (nobody) in a subprocess; needs root to switch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid nobody needs root")

NOBODY = 65534


def _as_nobody(*args: str) -> subprocess.CompletedProcess:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    return subprocess.run([setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}",
                           "--clear-groups", sys.executable, *args],
                          capture_output=True, text=True, cwd="/", check=False)


def test_kernel_engine_says_why_and_auto_falls_back_to_the_vm():
    code = ("import logging\nlogging.basicConfig()\n"
            "from pybpf.engine import load\nfrom pybpf.object import MapSpec\n"
            "print(load(MapSpec('m', 'hash', 4, 4, 1)).engine)\n"
            "try:\n    load(MapSpec('m', 'hash', 4, 4, 1), engine='kernel')\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    out = _as_nobody("-c", code)
    if "ModuleNotFoundError" in out.stdout + out.stderr:
        pytest.skip("pybpf is not importable as nobody (source tree not readable)")
    assert out.stdout.splitlines()[0] == "vm"
    assert "using the vm" in out.stderr and "EPERM" in out.stderr        # auto says why, once
    assert "EPERM" in out.stdout and "CAP_BPF" in out.stdout              # the kernel's own refusal
    assert "kernel engine cannot run here" in out.stdout


def test_cli_reports_eperm_in_one_line():
    out = _as_nobody("-m", "pybpf", "prog", "list")
    if "ModuleNotFoundError" in out.stderr:
        pytest.skip("pybpf is not importable as nobody (source tree not readable)")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "EPERM" in out.stderr and "CAP_BPF" in out.stderr
