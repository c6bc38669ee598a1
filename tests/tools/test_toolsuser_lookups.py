"""gethostlatency and bashreadline (uprobes on libc and bash, on the trace language):
this process resolves "localhost" with socket.getaddrinfo(), and an interactive bash on a
pseudo-terminal reads a command; both show up in the table and in ``--json``."""

from __future__ import annotations

import json
import os
import pty
import socket
import time

import pytest
from test_tools import side_by_side

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")
MARKER = "echo pybpf_toolsuser_typed"


def _lookup():
    socket.getaddrinfo("localhost", 80)


def _type_into_bash():
    """An interactive bash on a pty that reads one command line and exits."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
    try:
        time.sleep(0.3)
        os.write(fd, MARKER.encode() + b"\nexit\n")
        time.sleep(0.3)
    finally:
        os.waitpid(pid, 0)
        os.close(fd)


@pytest.fixture(scope="module")
def gethostlatency_runs():
    """gethostlatency's table and --json, side by side while this process resolves."""
    return side_by_side({"table": ("gethostlatency", ["-p", str(os.getpid())]),
                         "json": ("gethostlatency", ["--json", "-p", str(os.getpid())])}, _lookup, timing=["-d", "3"])


@pytest.fixture(scope="module")
def bashreadline_runs():
    """bashreadline's table and --json, side by side while a bash reads a command."""
    return side_by_side({"table": ("bashreadline", []), "json": ("bashreadline", ["--json"])}, _type_into_bash,
                        timing=["-d", "4"])


def test_gethostlatency(gethostlatency_runs):
    lines = gethostlatency_runs["table"].splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMM", "LATms", "HOST"]
    rows = [line.split() for line in lines[1:]]
    assert rows and all(row[1] == str(os.getpid()) and row[4] == "localhost" and float(row[3]) >= 0 for row in rows)


def test_gethostlatency_json(gethostlatency_runs):
    events = [json.loads(line) for line in gethostlatency_runs["json"].splitlines()]
    assert len(events) >= 3
    assert all(e["host"] == "localhost" and e["pid"] == os.getpid() and e["latency_ns"] > 0 for e in events)
    assert all(abs(e["time"] - time.time()) < 60 for e in events)


def test_bashreadline(bashreadline_runs):
    lines = bashreadline_runs["table"].splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMMAND"]
    assert any(line.split(None, 2)[2] == MARKER for line in lines[1:])


def test_bashreadline_json(bashreadline_runs):
    commands = [json.loads(line)["command"] for line in bashreadline_runs["json"].splitlines()]
    assert MARKER in commands and "exit" in commands
