"""What the toolsnet tool tests share: run ``pybpf tool NAME`` for a few seconds while a
workload runs beside it, a network namespace of the test's own to run TCP in, and reading
what a tool wrote to a pty."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
PYTHON_ENV = {**os.environ, "PYTHONPATH": SRC}


def tool_output(name: str, arguments: list[str], workload: list[str] | None = None, *, duration: float = 4.0,
                timing: list[str] | None = None) -> str:
    """The stdout of ``pybpf tool NAME -d DURATION ARGUMENTS`` (or ``timing`` instead of
    ``-d``) while ``workload`` (a command) runs from start to end; asserts exit status 0."""
    load = subprocess.Popen(workload, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if workload else None
    try:
        result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", name,
                                 *(["-d", str(duration)] if timing is None else timing), *arguments],
                                capture_output=True, text=True, env=PYTHON_ENV, timeout=120)
    finally:
        if load is not None:
            load.kill()
            load.wait()
    assert result.returncode == 0, result.stderr
    return result.stdout


def read_available(fd: int, wait: float = 0.0) -> bytes:
    """What can be read from ``fd`` (a pty's master side) without blocking, waiting up to
    ``wait`` seconds for each further chunk; stops early once the other side has closed
    (a pty's master reads EIO then, not end of file)."""
    data = b""
    while select.select([fd], [], [], wait)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def rows(out: str) -> list[list[str]]:
    """Table rows after the header, split on blanks."""
    return [line.split() for line in out.splitlines()[1:] if line.strip()]


@contextlib.contextmanager
def netns(name: str | None = None) -> Iterator[str]:
    """A fresh network namespace (its loopback up), removed afterwards; ``name``, or one
    made up."""
    name = name or f"pybpf-toolsnet-{os.getpid()}-{time.monotonic_ns() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def in_netns(name: str, code: str) -> list[str]:
    """The command running Python ``code`` inside namespace ``name``."""
    return ["ip", "netns", "exec", name, sys.executable, "-c", code]


def _accepted_connections(port: int, host: str) -> str:
    """Python code: a listener on ``host`` ``port`` and a loop that connects to it and
    accepts (``client``, ``accepted``); the caller's code continues the loop's body."""
    family = "socket.AF_INET6" if ":" in host else "socket.AF_INET"
    return f"""
import socket, subprocess, time
server = socket.socket({family})
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("{host}", {port}))
server.listen(16)
while True:
    client = socket.create_connection(("{host}", {port}))
    accepted, _ = server.accept()"""


def tcp_sessions(port: int, send: int = 5000, answer: int = 3000, host: str = "127.0.0.1") -> str:
    """Python code: loopback TCP sessions to ``host`` (127.0.0.1 or ::1) ``port`` again and
    again (connect, accept, ``send`` bytes one way and ``answer`` bytes back, close)."""
    return _accepted_connections(port, host) + f"""
    client.sendall(b"x" * {send})
    got = 0
    while got < {send}:
        got += len(accepted.recv(65536))
    accepted.sendall(b"y" * {answer})
    got = 0
    while got < {answer}:
        got += len(client.recv(65536))
    client.close()
    accepted.close()
    time.sleep(0.1)
"""


def tcp_retransmissions(port: int) -> str:
    """Python code: a loopback TCP connection that sends while the loopback device is
    down, so the data is retransmitted, then brings it up again; over and over."""
    return _accepted_connections(port, "127.0.0.1") + """
    subprocess.run(["ip", "link", "set", "lo", "down"], check=True)
    client.sendall(b"x" * 1000)
    time.sleep(0.7)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    accepted.recv(4096)
    client.close()
    accepted.close()
"""


def _memory_cgroup_root() -> tuple[Path, str] | None:
    """Where a memory cgroup can be made, and the name of its limit file: cgroup v2's
    memory.max where the memory controller is on, else v1's memory.limit_in_bytes."""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2" and "memory" in (Path(fields[1]) / "cgroup.subtree_control").read_text().split():
            return Path(fields[1]), "memory.max"
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup" and "memory" in fields[3].split(","):
            return Path(fields[1]), "memory.limit_in_bytes"
    return None


def memory_cgroup_available() -> bool:
    return _memory_cgroup_root() is not None


@contextlib.contextmanager
def memory_cgroup(limit: int) -> Iterator[Path]:
    """A fresh memory cgroup limited to ``limit`` bytes; its processes are killed and the
    cgroup removed afterwards."""
    found = _memory_cgroup_root()
    assert found is not None
    root, limit_file = found
    path = root / f"pybpf-toolsnet-{os.getpid()}"
    path.mkdir()
    try:
        (path / limit_file).write_text(str(limit))
        yield path
    finally:
        for _ in range(50):
            pids = (path / "cgroup.procs").read_text().split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def interrupt_counts() -> dict[str, int]:
    """/proc/interrupts: interrupts so far by action name, summed over CPUs."""
    lines = Path("/proc/interrupts").read_text().splitlines()
    cpus = len(lines[0].split())
    counts: dict[str, int] = {}
    for line in lines[1:]:
        fields = line.split()
        if not fields[0].rstrip(":").isdigit() or len(fields) < cpus + 2:
            continue
        name = fields[-1]
        counts[name] = counts.get(name, 0) + sum(int(f) for f in fields[1:cpus + 1])
    return counts
