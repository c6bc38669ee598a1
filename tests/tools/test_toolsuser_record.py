"""``pybpf record`` of the event tools built on the trace language (gethostlatency,
trace): a CTF recording that babeltrace2 reads back with the lookups' fields, and a
JSON-lines recording that ``pybpf report`` summarises."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from test_tools import SRC

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")
ENV = {**os.environ, "PYTHONPATH": SRC}


def _record(arguments: list[str]) -> None:
    """Run ``pybpf record ARGUMENTS`` while this process resolves localhost."""
    process = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "record", *arguments], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        socket.getaddrinfo("localhost", 80)
        time.sleep(0.1)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err.startswith("recorded ")


@pytest.mark.skipif(shutil.which("babeltrace2") is None, reason="babeltrace2 reads the CTF back")
def test_gethostlatency_record_ctf(tmp_path):
    trace = tmp_path / "lookups"
    _record(["-o", str(trace), "--format", "ctf", "gethostlatency", "-d", "2.5", "-p", str(os.getpid())])
    read = subprocess.run(["babeltrace2", str(trace)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(read) >= 5
    assert all(f"gethostlatency: {{ pid = {os.getpid()}, comm = " in line and 'host = "localhost" }' in line for line in read)


def test_trace_record_jsonl_and_report(tmp_path):
    path = tmp_path / "trace.jsonl"
    _record(["-o", str(path), "--format", "jsonl", "trace", "--duration", "2.5", "-p", str(os.getpid()),
             'p:c:getaddrinfo "%s", arg1'])
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["tool"] == "trace"
    events = [json.loads(line) for line in lines[1:]]
    assert len(events) >= 5 and all(e["message"] == "localhost" and e["func"] == "getaddrinfo" for e in events)
    report = subprocess.run([sys.executable, "-m", "pybpf.cli", "report", str(path)], capture_output=True, text=True,
                            env=ENV, check=True).stdout
    assert f"events:   {len(events)}" in report and f"{len(events):>8}  {os.getpid()}" in report
