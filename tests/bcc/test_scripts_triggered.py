"""More of BCC's own examples/ and tools/ scripts, run unmodified under
``python -m pybpf.bcc`` while the test makes the events they report happen, and checked
for what it can predict: its own pid and comm, the file it opened, the function it
called, a count at least the number of calls it made (root only).

The scripts are found and run as in test_scripts.py (Debian's bpfcc-tools package, or a
BCC checkout). Each run is kept short: a second or two of triggered events.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from pathlib import Path

import pytest
from test_scripts import _bcc_script, _run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="BCC scripts attach to the kernel: root only")

LIBC = ctypes.CDLL(None, use_errno=True)
COMM = Path("/proc/self/comm").read_text().strip()
PID = os.getpid()


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.split()]


def _counts(out: str) -> dict[str, int]:
    """The ``NAME COUNT`` rows a script printed."""
    return {row[0]: int(row[1]) for row in _rows(out) if len(row) == 2 and row[1].isdigit()}


def _hist_total(out: str) -> int:
    """The sum of the counts of the log2/linear histogram rows (``lo -> hi : count``)."""
    return sum(int(line.split(":")[1].split()[0]) for line in out.splitlines()
               if "->" in line and ":" in line and line.split(":")[1].split()[:1] != [])


class _Forks:
    """A trigger that forks ``sh`` processes (dash forks with clone(), not clone3()) and
    remembers their pids."""

    def __init__(self) -> None:
        self.pids: set[int] = set()

    def __call__(self) -> None:
        child = subprocess.Popen(["sh", "-c", "true & wait"])
        self.pids.add(child.pid)
        child.wait()


# examples/

def test_example_hello_world(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/hello_world.py", tmp_path), [], forks, ready="", stop_after=1.5)
    assert any(f"-{pid} " in line and "Hello, World!" in line for line in out.splitlines() for pid in forks.pids), out


def test_hello_fields(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/tracing/hello_fields.py", tmp_path), [], forks, ready="MESSAGE", stop_after=1.5)
    assert any(row[1:2] == ["sh"] and int(row[2]) in forks.pids and row[3:] == ["Hello,", "World!"]
               for row in _rows(out)[1:] if len(row) >= 5 and row[2].isdigit()), out


def test_trace_fields(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/tracing/trace_fields.py", tmp_path), [], forks, ready="MESSAGE", stop_after=1.5)
    # "{1} {5}".format() of trace_fields' bytes: BCC prints the message as b'...' too
    assert any(row[0].isdigit() and int(row[0]) in forks.pids and row[1:] == ["b'Hello,", "World!'"]
               for row in _rows(out)[1:]), out


def test_trace_perf_output(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/tracing/trace_perf_output.py", tmp_path), [], forks, ready="Ctrl-C",
               stop_after=1.5)
    assert any(line.endswith(": 12345678") for line in out.splitlines()), out
    counter = [row for row in _rows(out) if row[:2] == ["counter", "="]]
    assert counter and int(counter[0][2]) >= len(forks.pids) and int(counter[0][4]) >= len(forks.pids), out


def test_hello_perf_output_using_ns(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/tracing/hello_perf_output_using_ns.py", tmp_path), [], forks, ready="MESSAGE",
               stop_after=1.5)
    assert any(row[1] == "sh" and int(row[2]) in forks.pids and row[3:] == ["Hello,", "perf_output!"]
               for row in _rows(out)[1:] if len(row) == 5 and row[2].isdigit()), out


def test_sync_timing(tmp_path):
    out = _run(_bcc_script("examples/tracing/sync_timing.py", tmp_path), [], lambda: (os.sync(), os.sync()),
               ready="Ctrl-C", stop_after=1)
    # two syncs within a second: their distance is printed in ms
    assert any(line.startswith("At time ") and "multiple syncs detected, last" in line for line in out.splitlines()), out


def _strlens(text: bytes, times: int):
    buffer = ctypes.create_string_buffer(text)
    return lambda: [LIBC.strlen(buffer) for _ in range(times)]


def test_strlen_count(tmp_path):
    out = _run(_bcc_script("examples/tracing/strlen_count.py", tmp_path), [], _strlens(b"pybpf-bcc-strlen", 100),
               ready="Ctrl-C", stop_after=1)
    counts = {row[1]: int(row[0]) for row in _rows(out) if len(row) == 2 and row[0].isdigit()}
    assert counts.get('"pybpf-bcc-strlen"', 0) >= 100, out


def test_strlen_snoop(tmp_path):
    out = _run(_bcc_script("examples/tracing/strlen_snoop.py", tmp_path), [str(PID)],
               _strlens(b"pybpf-bcc-snoop", 3), ready="STRLEN", stop_after=1)
    # trace_fields gives bytes: BCC prints b'...' too
    assert any(row[1:] == [f"b'{COMM}'", str(PID), "b'pybpf-bcc-snoop'"] for row in _rows(out)[1:]), out


# tools/ on syscalls

def test_statsnoop(tmp_path):
    # glibc's stat() is newfstatat, which statsnoop does not trace: statfs and statx are
    probe = tmp_path / "bcc-statsnoop-probe"
    probe.write_text("x")
    missing = tmp_path / "bcc-statsnoop-missing"
    buffer = ctypes.create_string_buffer(256)

    def stats() -> None:
        os.statvfs(probe)
        LIBC.statx(-100, bytes(missing), 0, 0xFFF, buffer)          # AT_FDCWD, STATX_BASIC_STATS

    out = _run(_bcc_script("tools/statsnoop.py", tmp_path), ["-p", str(PID)], stats, ready="PATH", stop_after=1)
    rows = [row for row in _rows(out)[1:] if len(row) == 5]
    assert [str(PID), COMM, "0", "0", str(probe)] in rows, out
    assert [str(PID), COMM, "-1", "2", str(missing)] in rows, out      # ENOENT


def test_syncsnoop(tmp_path):
    out = _run(_bcc_script("tools/syncsnoop.py", tmp_path), [], os.sync, ready="CALL", stop_after=1)
    assert sum(row[1:] == ["sync()"] for row in _rows(out)[1:]) >= 2, out


SHM = ctypes.CDLL(None, use_errno=True)
SHM.shmat.restype = ctypes.c_void_p
SHM.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
SHM.shmdt.argtypes = [ctypes.c_void_p]


def test_shmsnoop(tmp_path):
    ids: list[tuple[int, int]] = []

    def shm() -> None:
        shmid = SHM.shmget(0, 8192, 0o1600)          # IPC_PRIVATE, IPC_CREAT | 0600
        address = SHM.shmat(shmid, None, 0)
        SHM.shmdt(ctypes.c_void_p(address))
        SHM.shmctl(shmid, 0, None)                   # IPC_RMID
        ids.append((shmid, address))

    out = _run(_bcc_script("tools/shmsnoop.py", tmp_path), ["-p", str(PID)], shm, ready="ARGs", stop_after=1)
    lines = {" ".join(line.split()) for line in out.splitlines()}
    shmid, address = ids[-1]
    assert f"{PID} {COMM} SHMGET {shmid:x} key: 0x0, size: 8192, shmflg: 0x380 (IPC_CREAT|0600)" in lines, out
    assert f"{PID} {COMM} SHMAT {address:x} shmid: {shmid:#x}, shmaddr: 0x0, shmflg: 0x0" in lines, out
    assert f"{PID} {COMM} SHMDT 0 shmaddr: {address:#x}" in lines, out
    assert f"{PID} {COMM} SHMCTL 0 shmid: {shmid:#x}, cmd: 0, buf: 0x0" in lines, out


def test_exitsnoop(tmp_path):
    children: set[int] = set()

    def exits() -> None:
        child = subprocess.Popen(["sh", "-c", "exit 3"])
        children.add(child.pid)
        child.wait()

    out = _run(_bcc_script("tools/exitsnoop.py", tmp_path), [], exits, ready="EXIT_CODE", stop_after=1)
    assert any(row[0] == "sh" and int(row[1]) in children and row[2] == str(PID) and row[-2:] == ["code", "3"]
               for row in _rows(out)[1:] if len(row) >= 7 and row[1].isdigit()), out


def test_threadsnoop(tmp_path):
    def threads() -> None:
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()

    out = _run(_bcc_script("tools/threadsnoop.py", tmp_path), [], threads, ready="FUNC", stop_after=1)
    # Python's threads start in pythread_wrapper (libpython's dynamic symbols)
    assert [str(PID), f"b'{COMM}'", "b'pythread_wrapper'"] in [row[1:] for row in _rows(out)[1:]], out


def test_mountsnoop(tmp_path):
    target = tmp_path / "bccscripts-mnt"
    target.mkdir()

    def mounts() -> None:
        subprocess.run(["mount", "-t", "tmpfs", "bccscripts", str(target)], check=True)
        subprocess.run(["umount", str(target)], check=True)

    out = _run(_bcc_script("tools/mountsnoop.py", tmp_path), [], mounts, ready="CALL", stop_after=1)
    lines = out.splitlines()
    assert any(line.startswith("mount ") and line.endswith(f'mount("bccscripts", "{target}", "tmpfs", 0x0, "") = 0')
               for line in lines), out
    assert any(line.startswith("umount ") and line.endswith(f'umount("{target}", 0x0) = 0') for line in lines), out
