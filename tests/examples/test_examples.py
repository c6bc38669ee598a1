"""The examples run as users run them (a subprocess with --duration) while the test makes
the events they report happen. Root only: they attach to the running kernel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from shared_data import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the examples attach to the kernel: root only")


def _run(name: str, duration: float, trigger, *options: str) -> str:
    process = subprocess.Popen([sys.executable, str(REPO / "examples" / f"{name}.py"), "--duration", str(duration),
                                *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def keep_triggering() -> None:
        time.sleep(1.0)           # compiling and attaching come first
        while not stop.is_set():
            trigger()
            time.sleep(0.2)

    worker = threading.Thread(target=keep_triggering, daemon=True)
    worker.start()
    try:
        out, err = process.communicate(timeout=60)
    finally:
        stop.set()
        worker.join()
    assert process.returncode == 0, err
    return out


def test_hello_clone():
    # a shell's fork() is a clone() (Python's own subprocess spawning uses clone3/vfork)
    out = _run("hello_clone", 3, lambda: subprocess.run(["sh", "-c", "true & wait"], check=True))
    assert "Hello, clone! from pid" in out


def test_execsnoop():
    out = _run("execsnoop", 3, lambda: subprocess.run(["/bin/true"], check=True))
    assert out.splitlines()[0].split() == ["PID", "COMM", "FILENAME"]
    assert any(line.split()[1:] == ["true", "/bin/true"] for line in out.splitlines()[1:])


def test_syscount():
    out = _run("syscount", 2.5, lambda: [os.getppid() for _ in range(1000)])
    assert "SYSCALL" in out and "COUNT" in out
    assert any(line.split()[0] in ("getppid", "110") and int(line.split()[1]) >= 1000 for line in out.splitlines()
               if len(line.split()) == 2 and line.split()[1].isdigit())


def test_tcpconnect():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    port = server.getsockname()[1]

    def connect() -> None:
        with socket.create_connection(("127.0.0.1", port)):
            pass
        server.accept()[0].close()

    try:
        out = _run("tcpconnect", 3, connect)
    finally:
        server.close()
    assert any(line.split()[2:] == ["127.0.0.1", "127.0.0.1", str(port)] for line in out.splitlines()[1:])


def test_profile_names_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "while True: sum(range(1000))"])
    try:
        out = _run("profile", 2, lambda: None)
        folded = subprocess.run([sys.executable, str(REPO / "examples" / "profile.py"), "--duration", "1", "--folded"],
                                capture_output=True, text=True, check=True).stdout
    finally:
        busy.kill()
        busy.wait()
    block = out.split(f"({busy.pid})", 1)
    assert len(block) == 2, out
    first_frame = block[1].splitlines()[1].strip()
    assert first_frame and not first_frame.startswith("0x")      # symbolized
    # folded: "comm (pid);outermost;...;innermost COUNT"
    assert any(line.split(";")[0].endswith(f"({busy.pid})") and line.rsplit(" ", 1)[1].isdigit()
               for line in folded.splitlines())


def test_bash_readline():
    if shutil.which("script") is None or not os.path.exists("/usr/bin/bash"):
        pytest.skip("needs bash and script (util-linux) to type into an interactive bash")
    typed = "echo pybpf-readline-test"
    out = _run("bash_readline", 4, lambda: subprocess.run(
        ["script", "-q", "-c", "bash --norc --noprofile -i", "/dev/null"], input=f"{typed}\nexit\n",
        capture_output=True, text=True, timeout=10))
    assert any(line.endswith(typed) for line in out.splitlines()[1:])


def test_usdt_python_imports():
    python = "/usr/bin/python3.11"
    if not os.path.exists(python):
        pytest.skip(f"{python} (with USDT probes) is not installed")
    out = _run("usdt", 3, lambda: subprocess.run([python, "-c", "import json, csv"], check=True))
    modules = {line.split()[-1] for line in out.splitlines()[1:] if line.split()}
    assert {"json", "csv"} <= modules


def test_syscall_filter(tmp_path):
    inside, outside = tmp_path / "watched", tmp_path / "other"
    inside.mkdir()
    outside.mkdir()

    def touch() -> None:
        (inside / "seen").write_text("x")
        (outside / "unseen").write_text("x")

    out = _run("syscall_filter", 3, touch, "--prefix", f"{inside}/")
    paths = [line.split()[-1] for line in out.splitlines()[1:] if line.split()]
    assert str(inside / "seen") in paths and all(path.startswith(str(inside)) for path in paths)


def test_cgroup_egress():
    out = _run("cgroup_egress", 10, lambda: None)
    assert "10 packets, 1280 bytes sent" in out       # 10 × (100 bytes + UDP and IPv4 headers)


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip for the namespaces")
def test_xdp_icmp_drops_icmp_only():
    out = _run("xdp_icmp", 2.5, lambda: None)
    counters = [line.split() for line in out.splitlines() if line.startswith("dropped ICMP:")]
    assert counters and int(counters[-1][2]) >= 2 and int(counters[-1][5]) >= 2
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "pybpf-xdp" not in namespaces


def _terminated(name: str, ready, *options: str) -> str:
    """Start an example with no --duration, wait until ``ready(pid)`` (its objects exist),
    send SIGTERM as a service manager or ``kill`` would; it must exit cleanly. Its output."""
    process = subprocess.Popen([sys.executable, str(REPO / "examples" / f"{name}.py"), *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready(process.pid):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        time.sleep(0.3)
        process.terminate()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    return out


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip for the namespaces")
def test_xdp_icmp_cleans_up_when_terminated():
    started = []

    def ready(pid: int) -> bool:
        started.append(pid)
        return f"pybpf-xdp-b-{pid}" in _namespaces()

    _terminated("xdp_icmp", ready)
    left = _namespaces()
    assert f"pybpf-xdp-a-{started[0]}" not in left and f"pybpf-xdp-b-{started[0]}" not in left


def test_cgroup_egress_cleans_up_when_terminated():
    from pathlib import Path

    with open("/proc/mounts") as mounts:
        roots = [line.split()[1] for line in mounts if line.split()[2] == "cgroup2"]
    if not roots:
        pytest.skip("no cgroup v2 hierarchy is mounted")
    cgroup = {}

    def running(pid: int) -> bool:
        cgroup["path"] = Path(roots[0]) / f"pybpf-egress-{pid}"
        procs = cgroup["path"] / "cgroup.procs"
        return procs.exists() and bool(procs.read_text().strip())

    out = _terminated("cgroup_egress", running, "--", "sleep", "30")
    assert "sleep 30: " in out and not cgroup["path"].exists()
