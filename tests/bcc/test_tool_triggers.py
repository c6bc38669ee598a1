"""BCC tools that attached here but had no event triggered for them (docs/bcc.md: "starts"),
run unmodified under ``python -m pybpf.bcc`` while the test makes their events happen:
shmsnoop.py on System V shared memory calls, memleak.py on allocations a process keeps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_scripts import _bcc_script, _run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="BCC tools attach to the kernel: root only")

SHARED_MEMORY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(0, 8192, 0o1600)          # IPC_PRIVATE, IPC_CREAT | 0600
address = libc.shmat(shmid, None, 0)
libc.shmdt(ctypes.c_void_p(address))
libc.shmctl(shmid, 0, None)                   # IPC_RMID
print(os.getpid(), shmid, hex(address), flush=True)
"""


def test_shmsnoop_prints_each_shared_memory_call(tmp_path):
    calls: list[list[str]] = []

    def trigger() -> None:
        if not calls:
            calls.append(subprocess.run([sys.executable, "-c", SHARED_MEMORY], capture_output=True, text=True,
                                        check=True).stdout.split())

    out = _run(_bcc_script("tools/shmsnoop.py", tmp_path), [], trigger, ready="PID", stop_after=2)
    pid, shmid, address = calls[0]
    rows = [line.split(None, 4) for line in out.splitlines() if line.split()[:1] == [pid]]
    assert [(sys_, ret) for _, _, sys_, ret, _ in rows] == [
        ("SHMGET", f"{int(shmid):x}"), ("SHMAT", address[2:]), ("SHMDT", "0"), ("SHMCTL", "0")], out
    assert rows[0][4] == "key: 0x0, size: 8192, shmflg: 0x380 (IPC_CREAT|0600)", out
    assert rows[1][4] == f"shmid: {int(shmid):#x}, shmaddr: 0x0, shmflg: 0x0", out
    assert rows[2][4] == f"shmaddr: {address}", out
    assert rows[3][4] == f"shmid: {int(shmid):#x}, cmd: 0, buf: 0x0", out


KEEPER = """
import ctypes, os, sys, time
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
print(os.getpid(), flush=True)
sys.stdin.readline()
kept = [libc.malloc(123457) for _ in range(5)]
freed = [libc.free(ctypes.c_void_p(libc.malloc(54321))) for _ in range(7)]
print("allocated", flush=True)
time.sleep(30)
"""


def test_memleak_reports_what_a_process_keeps(tmp_path):
    keeper = subprocess.Popen([sys.executable, "-c", KEEPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        pid = keeper.stdout.readline().strip()

        def allocate() -> None:
            if keeper.stdin and not keeper.stdin.closed:
                keeper.stdin.write("go\n")
                keeper.stdin.close()
                assert keeper.stdout.readline().strip() == "allocated"

        out = _run(_bcc_script("tools/memleak.py", tmp_path), ["-p", pid, "1"], allocate, ready="Top 10 stacks",
                   stop_after=3)
    finally:
        keeper.kill()
        keeper.wait()
    assert f"Attaching to pid {pid}" in out, out
    # the five kept blocks, every report after they were made; the freed ones never
    assert "617285 bytes in 5 allocations from stack" in out, out
    assert "54321" not in out and "380247" not in out, out
