"""A pin under /sys/fs/bpf mounts bpffs there first when it is not mounted, as bpftool does
(many machines boot without it: every pin then failed with ENOENT). Run in a private mount
namespace (``unshare -m``) with /sys/fs/bpf unmounted there, so the machine's own mounts
are untouched."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from pybpf.kernel.bpffs import filesystem_of, mount_for_pin

CHILD = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
while libc.umount2(b"/sys/fs/bpf", 2) == 0:          # MNT_DETACH: whatever is mounted there, gone
    pass
from pybpf.kernel.bpffs import filesystem_of
assert filesystem_of("/sys/fs/bpf") != "bpf", filesystem_of("/sys/fs/bpf")
from pybpf.kernel.maps import create_map, open_pinned_map
from pybpf.object.maps import MapSpec
m = create_map(MapSpec(name="bpffs_test", type="array", key_size=4, value_size=8, max_entries=1))
m[0] = 42
m.pin("/sys/fs/bpf/bpffs-test")
print(filesystem_of("/sys/fs/bpf"), open_pinned_map("/sys/fs/bpf/bpffs-test")[0])
"""


def test_filesystem_of_names_the_longest_mount():
    assert filesystem_of("/proc/self") == "proc"
    assert filesystem_of("/") is not None


def test_mount_for_pin_leaves_other_paths_alone(tmp_path):
    mount_for_pin(str(tmp_path / "x"))             # not under /sys/fs/bpf: nothing mounted
    assert filesystem_of(str(tmp_path)) != "bpf"


def test_pin_mounts_bpffs_where_it_is_missing(bpf_permitted):
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    run = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", CHILD],
                         capture_output=True, text=True, timeout=60)
    if run.returncode and "unshare failed" in run.stderr:
        pytest.skip(f"no private mount namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["bpf", "42"]
