"""Fixtures for tests that call bpf() for real: one probe decides whether they run.

``bpf_permitted`` skips (with the kernel's own refusal as the reason) where bpf() is
not allowed; ``bpffs`` yields a fresh directory on a BPF filesystem (a private mount when
/sys/fs/bpf is not one) and removes every pin left in it; ``no_fd_leak`` fails a test that leaves a file descriptor open.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pybpf.kernel.engine import available

BPFFS = "/sys/fs/bpf"


def _bpffs_mounted(path: str) -> bool:
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == path and line.split()[2] == "bpf" for line in mounts)


@pytest.fixture(scope="session")
def bpf_permitted() -> None:
    """Skip unless this process may use bpf()."""
    reason = available()
    if reason:
        pytest.skip(f"bpf() is not permitted here: {reason}")


@pytest.fixture
def no_fd_leak():
    """Fail the test if it leaves more file descriptors open than it found."""
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = set(os.listdir("/proc/self/fd")) - before
    assert not leaked, f"fds left open: {sorted(leaked)}"


@pytest.fixture
def bpffs(bpf_permitted) -> str:
    """A fresh empty directory on a BPF filesystem, removed with whatever is pinned in it.

    It is /sys/fs/bpf/pybpf-test-* when /sys/fs/bpf is a BPF filesystem; otherwise a
    private bpffs mounted for the test at a temporary directory (and unmounted after),
    so that no other user of /sys/fs/bpf is disturbed.
    """
    if _bpffs_mounted(BPFFS):
        path = tempfile.mkdtemp(prefix="pybpf-test-", dir=BPFFS)
        yield path
        shutil.rmtree(path, ignore_errors=True)
        return
    path = tempfile.mkdtemp(prefix="pybpf-test-")
    try:
        subprocess.run(["mount", "-t", "bpf", "bpf", path], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        os.rmdir(path)
        pytest.skip(f"cannot mount a BPF filesystem at {path}: {exc}")
    try:
        yield path
    finally:
        subprocess.run(["umount", path], check=False, capture_output=True)
        os.rmdir(path)


@pytest.fixture(scope="session")
def bpftool() -> str:
    """The bpftool binary, or skip saying how to get it."""
    path = shutil.which("bpftool")
    if path is None:
        pytest.skip("bpftool is not installed (apt-get install bpftool)")
    return path


# the small programs the kernel tests load are shared with the engine-parity tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
