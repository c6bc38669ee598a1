"""funccount and funclatency against bpftrace, on the same workload: a child process
that, once told to, resolves localhost a random number of times. Both tracers must count
exactly that many getaddrinfo() calls (funclatency's histogram total too). bpftrace 0.17's
``-p`` does not filter uprobes by process, so its programs test ``pid`` themselves."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys

import pytest
from test_tools import SRC

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="tracing needs root"),
              pytest.mark.skipif(shutil.which("bpftrace") is None, reason="bpftrace is the reference")]

WORKLOAD = "import socket, sys\nsys.stdin.readline()\nfor _ in range(int(sys.argv[1])): socket.getaddrinfo('localhost', 80)\nsys.stdin.readline()\n"


def _traced(command: list[str], calls: int, ready: str, env: dict[str, str] | None = None) -> str:
    """Run the workload, start ``command`` (``{pid}`` filled in) on it, wait for ``ready``
    on the tracer's stderr or stdout, let the workload make ``calls`` calls, and return the
    tracer's output once it ends."""
    child = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(calls)], stdin=subprocess.PIPE, text=True)
    try:
        tracer = subprocess.Popen([part.replace("{pid}", str(child.pid)) for part in command], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
        seen = ""
        while ready not in seen:
            line = tracer.stdout.readline()     # type: ignore[union-attr]
            assert line, f"the tracer ended before it was ready: {seen}"
            seen += line
        child.stdin.write("go\n")               # type: ignore[union-attr]
        child.stdin.flush()                     # type: ignore[union-attr]
        out, _ = tracer.communicate(timeout=60)
        return seen + out
    finally:
        child.stdin.close()                     # type: ignore[union-attr]
        child.wait(timeout=30)


def test_funccount_counts_as_bpftrace():
    calls = random.randint(3, 12)
    ours = _traced([sys.executable, "-m", "pybpf.cli", "tool", "funccount", "-d", "3", "-p", "{pid}", "c:getaddrinfo"],
                   calls, "Hit Ctrl-C to end.", {"PYTHONPATH": SRC})
    theirs = _traced(["bpftrace", "-p", "{pid}", "-e", "uprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo /pid == {pid}/ { @ = count(); } "
                      "interval:s:3 { exit(); }"], calls, "__BPFTRACE_NOTIFY_PROBES_ATTACHED",
                     {"__BPFTRACE_NOTIFY_PROBES_ATTACHED": "1"})
    assert re.search(r"^getaddrinfo\s+(\d+)$", ours, re.M).group(1) == str(calls)    # type: ignore[union-attr]
    assert re.search(r"^@: (\d+)$", theirs, re.M).group(1) == str(calls)              # type: ignore[union-attr]


def test_funclatency_total_as_bpftrace():
    calls = random.randint(3, 12)
    ours = _traced([sys.executable, "-m", "pybpf.cli", "tool", "funclatency", "-d", "3", "-p", "{pid}", "c:getaddrinfo"],
                   calls, "Hit Ctrl-C to end.", {"PYTHONPATH": SRC})
    theirs = _traced(["bpftrace", "-p", "{pid}", "-e", "uprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo /pid == {pid}/ { @s[tid] = nsecs; } "
                      "uretprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo /@s[tid]/ { @ = hist(nsecs - @s[tid]); "
                      "delete(@s[tid]); } interval:s:3 { clear(@s); exit(); }"], calls, "__BPFTRACE_NOTIFY_PROBES_ATTACHED",
                     {"__BPFTRACE_NOTIFY_PROBES_ATTACHED": "1"})
    ours_total = sum(int(line.split(":")[1].split("|")[0]) for line in ours.splitlines() if "->" in line)
    theirs_total = sum(int(m) for m in re.findall(r"^[\[(].*?[\])]\s+(\d+) \|", theirs, re.M))
    assert ours_total == theirs_total == calls
    assert f"count: {calls}" in ours
