"""More of BCC's own examples/ and tools/ scripts, run unmodified under
``python -m pybpf.bcc`` while the test makes the events they report happen, and checked
for what it can predict: its own pid and comm, the file it opened, the function it
called, a count at least the number of calls it made (root only).

The scripts are found and run as in test_scripts.py (Debian's bpfcc-tools package, or a
BCC checkout). Each run is kept short: under a second of triggered events where that is
enough (the whole file takes ~100 s on 2 shared CPUs).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
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


# examples/ (the trace_pipe readers get 1.5 s: the pipe may first hand them what earlier
# programs of the test session printed)

def test_example_hello_world(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/hello_world.py", tmp_path), [], forks, ready="", stop_after=1.5)
    assert any(f"-{pid} " in line and "Hello, World!" in line for line in out.splitlines() for pid in forks.pids), out


def test_hello_fields(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/tracing/hello_fields.py", tmp_path), [], forks, ready="MESSAGE", stop_after=1.5)
    # the comm is trace_pipe's: "<...>" where the kernel's saved command lines (a small
    # cache the tracer fills) no longer hold the short-lived child's, as late in a long run
    assert any(row[1] in ("sh", "<...>") and int(row[2]) in forks.pids and row[3:] == ["Hello,", "World!"]
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
               stop_after=0.7)
    assert any(line.endswith(": 12345678") for line in out.splitlines()), out
    counter = [row for row in _rows(out) if row[:2] == ["counter", "="]]
    assert counter and int(counter[0][2]) >= len(forks.pids) and int(counter[0][4]) >= len(forks.pids), out


def test_hello_perf_output_using_ns(tmp_path):
    forks = _Forks()
    out = _run(_bcc_script("examples/tracing/hello_perf_output_using_ns.py", tmp_path), [], forks, ready="MESSAGE",
               stop_after=0.7)
    assert any(row[1] == "sh" and int(row[2]) in forks.pids and row[3:] == ["Hello,", "perf_output!"]
               for row in _rows(out)[1:] if len(row) == 5 and row[2].isdigit()), out


def test_sync_timing(tmp_path):
    out = _run(_bcc_script("examples/tracing/sync_timing.py", tmp_path), [], lambda: (os.sync(), os.sync()),
               ready="Ctrl-C", stop_after=0.7)
    # two syncs within a second: their distance is printed in ms
    assert any(line.startswith("At time ") and "multiple syncs detected, last" in line for line in out.splitlines()), out


def _strlens(text: bytes, times: int):
    buffer = ctypes.create_string_buffer(text)
    return lambda: [LIBC.strlen(buffer) for _ in range(times)]


def test_strlen_count(tmp_path):
    out = _run(_bcc_script("examples/tracing/strlen_count.py", tmp_path), [], _strlens(b"pybpf-bcc-strlen", 100),
               ready="Ctrl-C", stop_after=0.7)
    counts = {row[1]: int(row[0]) for row in _rows(out) if len(row) == 2 and row[0].isdigit()}
    assert counts.get('"pybpf-bcc-strlen"', 0) >= 100, out


def test_strlen_snoop(tmp_path):
    out = _run(_bcc_script("examples/tracing/strlen_snoop.py", tmp_path), [str(PID)],
               _strlens(b"pybpf-bcc-snoop", 3), ready="STRLEN", stop_after=0.7)
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

    out = _run(_bcc_script("tools/statsnoop.py", tmp_path), ["-p", str(PID)], stats, ready="PATH", stop_after=0.7)
    rows = [row for row in _rows(out)[1:] if len(row) == 5]
    assert [str(PID), COMM, "0", "0", str(probe)] in rows, out
    assert [str(PID), COMM, "-1", "2", str(missing)] in rows, out      # ENOENT


def test_syncsnoop(tmp_path):
    out = _run(_bcc_script("tools/syncsnoop.py", tmp_path), [], os.sync, ready="CALL", stop_after=0.7)
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

    out = _run(_bcc_script("tools/shmsnoop.py", tmp_path), ["-p", str(PID)], shm, ready="ARGs", stop_after=0.7)
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

    out = _run(_bcc_script("tools/exitsnoop.py", tmp_path), [], exits, ready="EXIT_CODE", stop_after=0.7)
    assert any(row[0] == "sh" and int(row[1]) in children and row[2] == str(PID) and row[-2:] == ["code", "3"]
               for row in _rows(out)[1:] if len(row) >= 7 and row[1].isdigit()), out


def test_threadsnoop(tmp_path):
    def threads() -> None:
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()

    # (2 s: the first event's symbol lookup reads the ELF files of this process)
    out = _run(_bcc_script("tools/threadsnoop.py", tmp_path), [], threads, ready="FUNC", stop_after=2)
    # Python's threads start in pythread_wrapper (libpython's dynamic symbols)
    assert [str(PID), f"b'{COMM}'", "b'pythread_wrapper'"] in [row[1:] for row in _rows(out)[1:]], out


def test_mountsnoop(tmp_path):
    target = tmp_path / "bccscripts-mnt"
    target.mkdir()

    def mounts() -> None:
        subprocess.run(["mount", "-t", "tmpfs", "bccscripts", str(target)], check=True)
        subprocess.run(["umount", str(target)], check=True)

    out = _run(_bcc_script("tools/mountsnoop.py", tmp_path), [], mounts, ready="CALL", stop_after=0.7)
    lines = out.splitlines()
    assert any(line.startswith("mount ") and line.endswith(f'mount("bccscripts", "{target}", "tmpfs", 0x0, "") = 0')
               for line in lines), out
    assert any(line.startswith("umount ") and line.endswith(f'umount("{target}", 0x0) = 0') for line in lines), out


# tools/ on TCP state tracepoints

def _tcp_connection() -> tuple[int, int]:
    """A TCP connection on 127.0.0.1 that sends 100 bytes each way and is closed;
    returns (server port, client port)."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"x" * 100)
                peer.recv(100)
                peer.sendall(b"y" * 100)
                client.recv(100)
            return port, client.getsockname()[1]


class _Connections:
    """A trigger making TCP connections; ``ports[1]`` is one the script reports: it prints
    its header before it opens its perf buffer, so events of the first may be lost (in BCC
    as well)."""

    def __init__(self) -> None:
        self.ports: list[tuple[int, int]] = []

    def __call__(self) -> None:
        self.ports.append(_tcp_connection())


def test_tcpstates(tmp_path):
    connections = _Connections()
    out = _run(_bcc_script("tools/tcpstates.py", tmp_path), [], connections, ready="NEWSTATE", stop_after=0.7)
    rows = {tuple(row[1:10]) for row in _rows(out)[1:] if len(row) == 11}
    server, client = connections.ports[1]
    ends = (str(PID), COMM, "127.0.0.1", str(client), "127.0.0.1", str(server))
    assert (*ends, "SYN_SENT", "->", "ESTABLISHED") in rows and (*ends, "LAST_ACK", "->", "CLOSE") in rows, out
    accepted = (str(PID), COMM, "127.0.0.1", str(server), "127.0.0.1", str(client))
    assert (*accepted, "ESTABLISHED", "->", "FIN_WAIT1") in rows, out


def test_tcplife(tmp_path):
    connections = _Connections()
    out = _run(_bcc_script("tools/tcplife.py", tmp_path), ["-p", str(PID)], connections, ready="MS", stop_after=0.7)
    rows = [row for row in _rows(out)[1:] if len(row) == 9]
    server, client = connections.ports[1]
    # both ends are this process: the client's and the accepted socket's lives, 100 bytes each way (0 KB)
    assert [str(PID), COMM, "127.0.0.1", str(client), "127.0.0.1", str(server), "0", "0"] in [row[:8] for row in rows], out
    assert [str(PID), COMM, "127.0.0.1", str(server), "127.0.0.1", str(client), "0", "0"] in [row[:8] for row in rows], out


# tools/ on scheduler, irq and block tracepoints

def _sleeps(times: int = 100):
    import time

    return lambda: [time.sleep(0.0005) for _ in range(times)]


def test_runqlat(tmp_path):
    out = _run(_bcc_script("tools/runqlat.py", tmp_path), ["-p", str(PID)], _sleeps(), ready="Ctrl-C", stop_after=0.7)
    assert "     usecs               : count     distribution" in out
    assert _hist_total(out) >= 100, out          # each wakeup of this process is a run queue latency


def test_runqslower(tmp_path):
    out = _run(_bcc_script("tools/runqslower.py", tmp_path), ["-p", str(PID), "1"], _sleeps(), ready="LAT(us)",
               stop_after=0.7)
    rows = [row for row in _rows(out)[2:] if len(row) == 4]
    assert any(row[1:3] == [COMM, str(PID)] and int(row[3]) >= 1 for row in rows), out


def test_wakeuptime(tmp_path):
    # folded: waker;its kernel stack;target count — this process woken from its sleeps by a timer
    out = _run(_bcc_script("tools/wakeuptime.py", tmp_path), ["-f", "-p", str(PID), "1"], _sleeps(), ready="",
               stop_after=0, interrupt=False)
    ours = [line for line in out.splitlines() if line.rsplit(" ", 1)[0].endswith(f";{COMM}")]
    assert any("hrtimer_wakeup" in line.split(";") for line in ours), out


def _udp_loopback():
    import socket

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send() -> None:
        for _ in range(20):
            sender.sendto(b"x", receiver.getsockname())
            receiver.recv(10)

    return send


def test_softirqs(tmp_path):
    out = _run(_bcc_script("tools/softirqs.py", tmp_path), [], _udp_loopback(), ready="Ctrl-C", stop_after=0.7)
    assert "SOFTIRQ          TOTAL_usecs" in out
    assert "net_rx" in [row[0] for row in _rows(out)], out       # loopback packets are received in NET_RX


def _disk_writes(directory: Path):
    """Direct (O_DIRECT) 4 KB writes, each synced: a block request each, issued by this process."""
    import mmap

    path = directory / "bcc-block-io"
    buffer = mmap.mmap(-1, 4096)
    buffer.write(b"z" * 4096)

    def write() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
        try:
            for i in range(8):
                os.pwrite(fd, buffer, i * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)

    return write


def _disk_of(path: Path) -> str:
    """The block device name (vda) of the file system holding ``path``."""
    device = os.stat(path).st_dev
    name = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve()
    return name.parent.name if (name / "partition").exists() else name.name


def _needs_block_device(path: Path) -> None:
    if not Path(f"/sys/dev/block/{os.major(os.stat(path).st_dev)}:{os.minor(os.stat(path).st_dev)}").exists():
        pytest.skip(f"{path} is not on a block device")


def _irq_names(disk: str) -> set[str]:
    """The names (as /proc/interrupts gives them) of the MSI interrupts of ``disk``'s device."""
    numbers = {p.name for p in Path(f"/sys/block/{disk}/device/../msi_irqs").glob("*")}
    return {line.split()[-1] for line in Path("/proc/interrupts").read_text().splitlines()
            if line.split() and line.split()[0].rstrip(":") in numbers}


def test_hardirqs(tmp_path):
    _needs_block_device(tmp_path)
    irqs = _irq_names(_disk_of(tmp_path))
    if not irqs:
        pytest.skip(f"the interrupts of {_disk_of(tmp_path)} are not MSI interrupts listed in sysfs")
    out = _run(_bcc_script("tools/hardirqs.py", tmp_path), [], _disk_writes(tmp_path), ready="Ctrl-C", stop_after=0.7)
    assert "HARDIRQ                    TOTAL_usecs" in out
    # the completion interrupt of the disk's request queue (virtioN-req.0 for a virtio disk)
    assert {row[0] for row in _rows(out)} & irqs, (irqs, out)


def test_bitesize(tmp_path):
    _needs_block_device(tmp_path)
    out = _run(_bcc_script("tools/bitesize.py", tmp_path), [], _disk_writes(tmp_path), ready="Ctrl-C", stop_after=0.7)
    section = out.split(f"Process Name = {COMM}\n", 1)
    assert len(section) == 2, out
    hist = section[1].split("\n\n")[0]
    rows = {line.split("->")[0].strip(): int(line.split(":")[1].split()[0]) for line in hist.splitlines() if "->" in line}
    assert rows.get("4", 0) >= 8, out             # 4 KB writes land in the 4 -> 7 bucket


def test_biopattern(tmp_path):
    _needs_block_device(tmp_path)
    disk = _disk_of(tmp_path)
    out = _run(_bcc_script("tools/biopattern.py", tmp_path), ["1", "1"], _disk_writes(tmp_path), ready="KBYTES",
               stop_after=0.7, interrupt=False)
    rows = [row for row in _rows(out)[1:] if len(row) == 6 and row[1] == disk]
    assert sum(int(row[4]) for row in rows) >= 8 and sum(int(row[5]) for row in rows) >= 32, out


# tools/ on uprobes and USDT

def test_bashreadline(tmp_path):
    if not os.path.exists("/bin/bash") or not os.path.exists("/usr/bin/script"):
        pytest.skip("needs bash and script (util-linux) to type into an interactive bash")
    typed = "echo pybpf-bashreadline"
    out = _run(_bcc_script("tools/bashreadline.py", tmp_path), [], lambda: subprocess.run(
        ["script", "-q", "-c", "bash --norc --noprofile -i", "/dev/null"], input=f"{typed}\nexit\n",
        capture_output=True, text=True, timeout=10, check=True), ready="COMMAND", stop_after=0.7)
    assert any(line.endswith(typed) and line.split()[1].isdigit() for line in out.splitlines()), out


def test_gethostlatency(tmp_path):
    import socket

    out = _run(_bcc_script("tools/gethostlatency.py", tmp_path), ["-p", str(PID)],
               lambda: socket.getaddrinfo("localhost", 80), ready="HOST", stop_after=0.7)
    assert any(row[1:3] == [str(PID), COMM] and row[-1] == "localhost" for row in _rows(out)[1:] if len(row) == 5), out


def _getppids(times: int = 300):
    return lambda: [os.getppid() for _ in range(times)]


def test_funcslower_on_a_uprobe(tmp_path):
    out = _run(_bcc_script("tools/funcslower.py", tmp_path), ["-p", str(PID), "-m", "1", "c:usleep"],
               lambda: LIBC.usleep(3000), ready="Ctrl+C", stop_after=0.7)
    rows = [row for row in _rows(out)[2:] if len(row) == 5]
    assert any(row[:2] == [COMM, str(PID)] and float(row[2]) >= 3 and row[4] == "c:usleep" for row in rows), out


def test_funcinterval_on_a_uprobe(tmp_path):
    out = _run(_bcc_script("tools/funcinterval.py", tmp_path), ["-p", str(PID), "c:getppid"], _getppids(),
               ready="Ctrl-C", stop_after=0.7)
    assert _hist_total(out) >= 299, out          # 300 calls: 299 intervals between them at least


def test_stackcount_on_a_uprobe(tmp_path):
    out = _run(_bcc_script("tools/stackcount.py", tmp_path), ["-p", str(PID), "c:getppid"], _getppids(),
               ready="Ctrl-C", stop_after=0.7)
    # a user stack with getppid on top (glibc's name for it), and how many times it was seen
    stacks = out.split("\n\n")
    counts = [int(stack.split()[-1]) for stack in stacks if stack.split()[:1] == ["getppid"]
              and stack.split()[-1].isdigit()]
    assert sum(counts) >= 300, out


def _busy(seconds: float = 0.25):
    import time

    def spin() -> None:
        end = time.time() + seconds
        while time.time() < end:
            pass

    return spin


def test_profile(tmp_path):
    # dd copying /dev/zero: its samples' kernel stacks are in read()
    dd = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=1M"], stderr=subprocess.DEVNULL)
    try:
        out = _run(_bcc_script("tools/profile.py", tmp_path), ["-f", "-p", str(dd.pid), "-F", "199", "1"], lambda: None,
                   ready="", stop_after=0, interrupt=False)
    finally:
        dd.kill()
        dd.wait()
    ours = [line for line in out.splitlines() if line.startswith("dd;")]
    assert sum(int(line.split()[-1]) for line in ours) >= 20, out
    assert any("ksys_read" in line.split(";") for line in ours), out


def test_runqlen_with_more_runnable_threads_than_cpus(tmp_path):
    spinners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(os.cpu_count() + 2)]
    try:
        out = _run(_bcc_script("tools/runqlen.py", tmp_path), ["1", "1"], lambda: None, ready="Ctrl-C", stop_after=0.7,
                   interrupt=False)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    rows = {line.split(":")[0].strip(): int(line.split(":")[1].split()[0]) for line in out.splitlines()
            if ":" in line and line.split(":")[0].strip().isdigit()}
    assert sum(count for length, count in rows.items() if int(length) >= 1) >= 50, out


def test_cpuunclaimed(tmp_path):
    spinners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(os.cpu_count())]
    try:
        out = _run(_bcc_script("tools/cpuunclaimed.py", tmp_path), ["1", "1"], lambda: None, ready="Sampling",
                   stop_after=1, interrupt=False)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    rows = [line for line in out.splitlines() if line.startswith("%CPU")]
    assert rows and float(rows[0].split()[1].rstrip("%,")) >= 50, out        # every CPU busy


def test_bpflist_names_a_process_holding_maps(tmp_path):
    from pybpf.kernel.maps import create_map
    from pybpf.object.maps import MapSpec, MapType

    with create_map(MapSpec("bccscripts1", MapType.ARRAY, 4, 8, 1)), create_map(MapSpec("bccscripts2", MapType.HASH, 4, 8, 4)):
        out = _run(_bcc_script("tools/bpflist.py", tmp_path), [], lambda: None, ready="", stop_after=0, interrupt=False)
    rows = [row for row in _rows(out)[1:] if row[:3] == [str(PID), COMM, "map"]]
    assert rows and int(rows[0][3]) >= 2, out


def test_uflow_on_python_function_calls(tmp_path, python_calls):
    out = _run(_bcc_script("tools/lib/uflow.py", tmp_path), ["-l", "python", "-M", "pybpf_", str(python_calls.pid)],
               lambda: python_calls.ask(5), ready="METHOD", stop_after=0.7)
    script = python_calls.script
    rows = [line for line in out.splitlines() if line.split()[1:2] == [str(python_calls.pid)]]
    # the method column follows the time's (%-8.3f) and a space
    flow = [row[row.index(row.split()[3]) + max(8, len(row.split()[3])) + 1:].rstrip() for row in rows]
    # each call of pybpf_outer enters and leaves pybpf_inner within it (Python's "class" is the file);
    # uflow prints its header before it opens its perf buffer: the first round may be lost
    call = [f"-> {script}.pybpf_outer", f"  -> {script}.pybpf_inner", f"  <- {script}.pybpf_inner",
            f"<- {script}.pybpf_outer"]
    assert len(flow) >= 20 and "\n".join(call * 5) in "\n".join(flow), out
    assert set(flow) == set(call), out


LEAKER = """
import ctypes, os, sys, time
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.02)
kept = [libc.malloc(12345) for _ in range(10)]      # never freed
print("leaked", flush=True)
time.sleep(60)
"""


def test_memleak_reports_a_processes_outstanding_allocations(tmp_path):
    # the child leaks once the first report is printed: "Attaching to pid" is printed before the uprobes are
    script, go = tmp_path / "leak.py", tmp_path / "go"
    script.write_text(LEAKER)
    child = subprocess.Popen([sys.executable, str(script), str(go)], stdout=subprocess.PIPE, text=True)
    try:
        out = _run(_bcc_script("tools/memleak.py", tmp_path), ["-p", str(child.pid), "-o", "100", "1"],
                   lambda: go.write_text("go"), ready="Top 10 stacks", stop_after=1.5)
    finally:
        child.kill()
        child.wait()
    assert "\t123450 bytes in 10 allocations from stack" in out.replace("\t\t", "\n"), out


def _wait_for_listener(port: int) -> None:
    import socket
    import time

    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def tls_client(tmp_path):
    """A function that sends a line over TLS with ``openssl s_client`` to an ``openssl
    s_server`` on 127.0.0.1 (a self-signed certificate made for the test) and returns the
    client's pid. Python's ssl module is no use here: it calls SSL_write_ex/SSL_read_ex,
    which sslsniff (SSL_write/SSL_read) does not probe — in BCC either."""
    import socket

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=localhost", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
                               "-key", str(key)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    def send(line: bytes) -> int:
        client = subprocess.Popen(["openssl", "s_client", "-quiet", "-no_ign_eof", "-connect", f"127.0.0.1:{port}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client.communicate(line, timeout=10)
        return client.pid

    try:
        _wait_for_listener(port)
        yield send
    finally:
        server.kill()
        server.wait()


def test_sslsniff_shows_plaintext(tmp_path, tls_client):
    clients: set[int] = set()
    out = _run(_bcc_script("tools/sslsniff.py", tmp_path), ["--no-gnutls", "--no-nss", "-c", "openssl"],
               lambda: clients.add(tls_client(b"pybpf-sslsniff-secret\n")), ready="LEN", stop_after=0.7)
    lines = out.splitlines()
    # FUNC TIME(s) COMM PID LEN, "----- DATA -----", the plaintext
    events = [(line.split(), lines[i + 2]) for i, line in enumerate(lines[:-2]) if lines[i + 1] == "----- DATA -----"]
    assert any(head[0] == "WRITE/SEND" and head[2:5] == ["openssl", str(pid), "22"] and data == "pybpf-sslsniff-secret"
               for head, data in events for pid in clients), out
    # the server (another openssl) reads it
    assert any(head[0] == "READ/RECV" and int(head[3]) not in clients and data == "pybpf-sslsniff-secret"
               for head, data in events), out


def test_tcpretrans_of_a_syn_to_a_full_accept_queue(tmp_path):
    # a listener with backlog 0 and a connection nobody accepts: the next SYN is dropped and
    # the client retransmits it after its initial RTO (1 s), from the timer
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    server = "{}:{}".format(*listener.getsockname())
    sockets = [socket.create_connection(listener.getsockname())]
    clients: list[int] = []

    def connect() -> None:
        if not clients:
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(listener.getsockname())
            sockets.append(client)
            clients.append(client.getsockname()[1])

    try:
        out = _run(_bcc_script("tools/tcpretrans.py", tmp_path), [], connect, ready="STATE", stop_after=1.6)
    finally:
        for s in [*sockets, listener]:
            s.close()
    rows = [row[2:] for row in _rows(out)[1:] if len(row) == 7]
    assert ["4", f"127.0.0.1:{clients[0]}", "R>", server, "SYN_SENT"] in rows, out


@pytest.fixture
def unresolved_neighbour():
    """A network namespace (bccscriptsN) with a veth pair whose first end is 10.79.9.1/24
    and whose neighbours never answer, holding at most one packet waiting for ARP: a
    second packet to 10.79.9.2 drops the first (SKB_DROP_REASON_NEIGH_QUEUEFULL)."""
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's ip")
    ns = f"bccscripts{os.getpid() % 10000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for command in (["link", "add", "bccs-a", "type", "veth", "peer", "name", "bccs-b"],
                        ["addr", "add", "10.79.9.1/24", "dev", "bccs-a"],
                        ["link", "set", "bccs-a", "up"], ["link", "set", "bccs-b", "up"]):
            subprocess.run(["ip", "-n", ns, *command], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c",
                        "echo 1 > /proc/sys/net/ipv4/neigh/bccs-a/unres_qlen_bytes"], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


TWO_SYNS = """
import os, socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.setblocking(False)
    s.connect_ex(("10.79.9.2", 9))
print(os.getpid(), sockets[0].getsockname()[1], flush=True)
"""


def test_tcpdrop_of_a_syn_dropped_from_a_full_neighbour_queue(tmp_path, unresolved_neighbour):
    drops: list[tuple[str, str]] = []

    def two_syns() -> None:
        done = subprocess.run(["ip", "netns", "exec", unresolved_neighbour, sys.executable, "-c", TWO_SYNS],
                              capture_output=True, text=True, check=True, timeout=10)
        pid, port = done.stdout.split()
        drops.append((pid, port))

    out = _run(_bcc_script("tools/tcpdrop.py", tmp_path), [], two_syns, ready="FLAGS", stop_after=0.7)
    # the second connect()'s SYN drops the first's: in the connecting process, the first socket SYN_SENT
    rows = [row[1:] for row in _rows(out) if len(row) == 8 and row[4] == ">"]
    assert any([pid, "4", f"10.79.9.1:{port}", ">", "10.79.9.2:9", "SYN_SENT", "(SYN)"] in rows
               for pid, port in drops), out


KVM_GUEST = """
import ctypes, fcntl, mmap, os, struct, sys, time

# a real-mode guest at 0x1000: mov dx, 0x3f8; mov al, 'x'; out dx, al; hlt  -- run N times
KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE, KVM_CREATE_VCPU, KVM_RUN = 0xAE01, 0xAE04, 0xAE41, 0xAE80
KVM_SET_USER_MEMORY_REGION, KVM_GET_SREGS, KVM_SET_SREGS, KVM_SET_REGS = 0x4020AE46, 0x8138AE83, 0x4138AE84, 0x4090AE82
KVM_EXIT_IO, KVM_EXIT_HLT = 2, 5
kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
memory = mmap.mmap(-1, 0x2000)
memory[0x1000:0x1007] = bytes([0xBA, 0xF8, 0x03, 0xB0, 0x78, 0xEE, 0xF4])
address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION, struct.pack("IIQQQ", 0, 0, 0, 0x2000, address))
vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
run = mmap.mmap(vcpu, fcntl.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0))
sregs = bytearray(312)
fcntl.ioctl(vcpu, KVM_GET_SREGS, sregs)
struct.pack_into("QIH", sregs, 0, 0, 0xFFFF, 0)      # cs: base 0, limit, selector 0
fcntl.ioctl(vcpu, KVM_SET_SREGS, bytes(sregs))
regs = bytearray(144)
struct.pack_into("QQ", regs, 128, 0x1000, 2)          # rip, rflags
go = sys.argv[1]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.02)
exits = []
for _ in range(int(sys.argv[2])):
    fcntl.ioctl(vcpu, KVM_SET_REGS, bytes(regs))
    for _ in range(2):
        fcntl.ioctl(vcpu, KVM_RUN, 0)
        exits.append(struct.unpack_from("I", run, 8)[0])
print(exits.count(KVM_EXIT_IO), exits.count(KVM_EXIT_HLT), flush=True)
"""


def _skip_without_kvm_exit_events(guest: Path, tmp_path: Path) -> None:
    """Skip where the kernel does not emit ``kvm:kvm_exit`` for a guest's exits (as on the
    nested VM this was written on: perf counts 0 kvm_exit and 10 kvm_pio for 10 port writes),
    asked of perf as the reference."""
    if shutil.which("perf") is None:
        return
    go, counts = tmp_path / "go-perf", tmp_path / "perf.csv"
    go.write_text("go")
    subprocess.run(["perf", "stat", "-x,", "-e", "kvm:kvm_exit,kvm:kvm_pio", "-o", str(counts), "--",
                    sys.executable, str(guest), str(go), "10"], capture_output=True, timeout=60, check=True)
    events = {row.split(",")[2]: row.split(",")[0] for row in counts.read_text().splitlines() if row.count(",") >= 2}
    if events.get("kvm:kvm_pio") == "10" and events.get("kvm:kvm_exit") == "0":
        pytest.skip("this kernel emits no kvm:kvm_exit events for a guest's exits (perf stat: 0 kvm_exit, 10 kvm_pio)")


def test_kvmexit_counts_a_guests_exits(tmp_path):
    # a guest of the test's own (KVM's API from Python) doing 100 port writes and 100 hlts
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("needs /dev/kvm")
    if "GenuineIntel" not in Path("/proc/cpuinfo").read_text():
        pytest.skip("kvmexit supports Intel (VMX) exit reasons only")
    script, go = tmp_path / "guest.py", tmp_path / "go"
    script.write_text(KVM_GUEST)
    _skip_without_kvm_exit_events(script, tmp_path)
    guest = subprocess.Popen([sys.executable, str(script), str(go), "100"], stdout=subprocess.PIPE, text=True)
    try:
        if guest.stdout.readline().strip() != "ready":
            pytest.skip("this machine cannot run a KVM guest")
        out = _run(_bcc_script("tools/kvmexit.py", tmp_path), ["-p", str(guest.pid), "1"], lambda: go.write_text("go"),
                   ready="Display kvm exit reasons", stop_after=0.3, interrupt=False)
        assert guest.communicate(timeout=30)[0].split() == ["100", "100"]         # the exits the guest saw
    finally:
        guest.kill()
        guest.wait()
    counts = _counts(out)
    assert counts.get("IO_INSTRUCTION", 0) >= 100 and counts.get("HLT", 0) >= 100, out
