"""Every example that runs until stopped, and a BCC script under ``python -m pybpf.bcc``,
killed with SIGTERM once its probes are attached: it unwinds as on Ctrl-C (exit status 0
or 130, no traceback) and leaves no BPF link or pin behind. (xdp_icmp's network
namespaces and cgroup_egress's cgroup are checked in test_examples.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_data import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the examples attach to the kernel: root only")


def _link_ids(pid: int) -> set[int]:
    """The ids of the BPF links process ``pid`` holds (from its fds' fdinfo)."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return ids
    for fd in fds:
        try:
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        found = re.search(r"^link_id:\s+(\d+)", info, re.M)
        if found:
            ids.add(int(found.group(1)))
    return ids


def _live_link_ids() -> set[int]:
    from pybpf.kernel.info import ids

    return set(ids("link"))


def _terminate_when_attached(command: list[str]) -> tuple[int, str, set[int]]:
    """Run ``command``, SIGTERM it once it holds a BPF link; (status, stderr, its link ids)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        links: set[int] = set()
        while not links:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "never attached"
            time.sleep(0.1)
            links = _link_ids(process.pid)
        time.sleep(0.3)
        links |= _link_ids(process.pid)
        process.terminate()
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err, links


@pytest.mark.parametrize("name", ["hello_clone", "execsnoop", "syscount", "tcpconnect", "profile", "bash_readline",
                                  "usdt"])
def test_terminated_example_unwinds_and_leaves_no_link(name):
    options = ["--duration", "600"] if name == "profile" else []
    status, err, links = _terminate_when_attached([sys.executable, str(REPO / "examples" / f"{name}.py"), *options])
    assert status in (0, 130) and "Traceback" not in err, err
    assert links and not links & _live_link_ids()


SCRIPT = r"""
import os
import time

from bcc import BPF

b = BPF(text='BPF_TABLE_PINNED("hash", u32, u64, calls, 64, "{pin}");\n'
             'TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {{ u32 k = 0; calls.increment(k); return 0; }}')
try:
    while True:
        os.getppid()
        time.sleep(0.05)
finally:
    os.unlink("{pin}")       # what a script cleans up on Ctrl-C, it cleans up on SIGTERM too
"""


def test_terminated_bcc_script_runs_its_cleanup(tmp_path):
    pin = Path(f"/sys/fs/bpf/pybpf_bcc_term_{os.getpid()}")
    script = tmp_path / "pinning.py"
    script.write_text(SCRIPT.format(pin=pin))
    try:
        status, err, links = _terminate_when_attached([sys.executable, "-m", "pybpf.bcc", str(script)])
        assert status == 130 and "Traceback" not in err, err
        assert links and not links & _live_link_ids()
        assert not pin.exists()
    finally:
        if pin.exists():
            pin.unlink()
