"""Fixtures for tests that call bpf() for real: one probe decides whether they run.

``bpf_permitted`` skips (with the kernel's own refusal as the reason) where bpf() is
not allowed; ``bpffs`` yields a fresh directory on a BPF filesystem and removes every
pin left in it; ``no_fd_leak`` fails a test that leaves a file descriptor open.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
import shutil
import subprocess
import tempfile

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


@pytest.fixture(scope="session")
def bpffs_root(bpf_permitted) -> str:
    """/sys/fs/bpf as a BPF filesystem: mounted for the session if it was not."""
    if _bpffs_mounted(BPFFS):
        yield BPFFS
        return
    if not os.path.isdir(BPFFS):
        pytest.skip(f"{BPFFS} does not exist: no sysfs BPF directory to mount bpffs on")
    try:
        subprocess.run(["mount", "-t", "bpf", "bpf", BPFFS], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a BPF filesystem at {BPFFS}: {exc}")
    yield BPFFS
    subprocess.run(["umount", BPFFS], check=False, capture_output=True)


@pytest.fixture
def bpffs(bpffs_root) -> str:
    """A fresh /sys/fs/bpf/pybpf-test-* directory, removed with whatever is pinned in it."""
    path = tempfile.mkdtemp(prefix="pybpf-test-", dir=bpffs_root)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def bpftool() -> str:
    """The bpftool binary, or skip saying how to get it."""
    path = shutil.which("bpftool")
    if path is None:
        pytest.skip("bpftool is not installed (apt-get install bpftool)")
    return path


# the small programs the kernel tests load are shared with the engine-parity tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
