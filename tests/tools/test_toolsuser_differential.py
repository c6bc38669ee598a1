"""funccount and funclatency against bpftrace, side by side on the same workload: a child
process that, once told to, resolves localhost a random number of times. Both tracers must count
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


def _traced(calls: int, *tracers: tuple[list[str], str, dict[str, str]]) -> list[str]:
    """Run the workload, start each tracer ``(command, ready, env)`` (``{pid}`` filled in)
    on it side by side, wait for each one's ``ready`` on its stderr or stdout, let the
    workload make ``calls`` calls, and return each tracer's output once it ends."""
    child = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(calls)], stdin=subprocess.PIPE, text=True)
    started: list[tuple[subprocess.Popen, str]] = []
    try:
        for command, ready, env in tracers:
            tracer = subprocess.Popen([part.replace("{pid}", str(child.pid)) for part in command],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env={**os.environ, **env})
            started.append((tracer, ""))
            seen = ""
            while ready not in seen:
                line = tracer.stdout.readline()     # type: ignore[union-attr]
                assert line, f"the tracer ended before it was ready: {seen}"
                seen += line
            started[-1] = (tracer, seen)
        child.stdin.write("go\n")               # type: ignore[union-attr]
        child.stdin.flush()                     # type: ignore[union-attr]
        return [seen + tracer.communicate(timeout=60)[0] for tracer, seen in started]
    finally:
        for tracer, _ in started:
            if tracer.poll() is None:
                tracer.kill()
                tracer.wait()
        child.stdin.close()                     # type: ignore[union-attr]
        child.wait(timeout=30)


#: how bpftrace tells that its probes are attached
BPFTRACE_READY = ("__BPFTRACE_NOTIFY_PROBES_ATTACHED", {"__BPFTRACE_NOTIFY_PROBES_ATTACHED": "1"})
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def _ours(tool: str) -> tuple[list[str], str, dict[str, str]]:
    """``pybpf tool TOOL`` for 3 s on getaddrinfo of the workload, as :func:`_traced` takes it
    (after bpftrace, which takes longer to be ready: each one's 3 s start when it is)."""
    return ([sys.executable, "-m", "pybpf.cli", "tool", tool, "-d", "3", "-p", "{pid}", "c:getaddrinfo"],
            "Hit Ctrl-C to end.", {"PYTHONPATH": SRC})


def test_funccount_counts_as_bpftrace():
    calls = random.randint(3, 12)
    theirs, ours = _traced(calls, (["bpftrace", "-p", "{pid}", "-e", f"uprobe:{LIBC}:getaddrinfo /pid == {{pid}}/ "
                                    "{ @ = count(); } interval:s:3 { exit(); }"], *BPFTRACE_READY), _ours("funccount"))
    assert re.search(r"^getaddrinfo\s+(\d+)$", ours, re.M).group(1) == str(calls)    # type: ignore[union-attr]
    assert re.search(r"^@: (\d+)$", theirs, re.M).group(1) == str(calls)              # type: ignore[union-attr]


def test_funclatency_total_as_bpftrace():
    calls = random.randint(3, 12)
    theirs, ours = _traced(calls, (["bpftrace", "-p", "{pid}", "-e", f"uprobe:{LIBC}:getaddrinfo /pid == {{pid}}/ "
                                    "{ @s[tid] = nsecs; } "
                                    f"uretprobe:{LIBC}:getaddrinfo /@s[tid]/ {{ @ = hist(nsecs - @s[tid]); "
                                    "delete(@s[tid]); } interval:s:3 { clear(@s); exit(); }"], *BPFTRACE_READY),
                           _ours("funclatency"))
    ours_total = sum(int(line.split(":")[1].split("|")[0]) for line in ours.splitlines() if "->" in line)
    theirs_total = sum(int(m) for m in re.findall(r"^[\[(].*?[\])]\s+(\d+) \|", theirs, re.M))
    assert ours_total == theirs_total == calls
    assert f"count: {calls}" in ours
