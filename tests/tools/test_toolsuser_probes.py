"""trace and argdist (BCC probe specifications on the trace language), run as ``pybpf
tool NAME`` while this process calls libc's getaddrinfo() (through socket.getaddrinfo),
getppid() and read(): the messages, counts and histograms show the calls, and ``--json``
carries them; bad specifications fail with one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from test_tools import SRC, run_tool

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")
ME = str(os.getpid())


def _lookups():
    for _ in range(3):
        socket.getaddrinfo("localhost", 80)


def _reads():
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        os.read(fd, 7777)
    finally:
        os.close(fd)


def test_trace_entry_return_and_tracepoint():
    out = run_tool("trace", ["-p", ME, 'p:c:getaddrinfo "%s port %s", arg1, arg2', 'r:c:getaddrinfo (retval == 0) "ret=%d", retval',
                             't:syscalls:sys_enter_getppid "called"'], lambda: (_lookups(), os.getppid()),
                   timing=["--duration", "3"])
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "TID", "COMM", "FUNC", "-"]
    rows = [line.split(None, 4) for line in lines[1:]]
    assert rows and all(row[0] == ME for row in rows)
    messages = {(row[3], row[4]) for row in rows}
    assert {("getaddrinfo", "localhost port 80"), ("getaddrinfo", "ret=0"), ("syscalls:sys_enter_getppid", "called")} <= messages


def test_trace_json_max_events():
    out = run_tool("trace", ["--json", "-M", "2", "-p", ME, "-U", 'p:c:getaddrinfo(char *node) "%s", node'], _lookups,
                   timing=["--duration", "5"])
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2
    assert all(e["pid"] == os.getpid() and e["func"] == "getaddrinfo" and e["message"] == "localhost" for e in events)
    assert all(e["user_stack"][0] == "getaddrinfo" for e in events)


def test_trace_aggregate_unix_time_and_addresses():
    import time

    out = run_tool("trace", ["-A", "-M", "6", "-p", ME, 't:syscalls:sys_enter_getppid "called"'], os.getppid,
                   timing=["--duration", "5"])
    lines = out.splitlines()
    (count,) = [line for line in lines if "-->COUNT" in line]
    assert count == "-->COUNT 6" and lines[-3].split()[-1] == "called"      # the event's text, then its count
    out = run_tool("trace", ["-t", "-u", "-a", "-U", "-M", "2", "-p", ME, "p:c:getaddrinfo"], _lookups,
                   timing=["--duration", "5"])
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["TIME", "PID"]
    first = lines[1].split()
    assert abs(float(first[0]) - time.time()) < 60 and first[1] == ME
    address, name = lines[2].split()[:2]
    assert int(address, 16) > 0 and name.startswith("getaddrinfo")
    refused = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "trace", "-A", "t:syscalls:sys_enter_getppid"],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert refused.returncode != 0 and "-A counts events up to -M" in refused.stderr and "Traceback" not in refused.stderr


def test_trace_cgroup_path(tmp_path):
    """-c: only the tasks of a cgroup of the test's own (a child calling getppid in it), not
    this process, which calls getppid too."""
    from pathlib import Path

    roots = [fields[1] for fields in (line.split() for line in Path("/proc/mounts").read_text().splitlines())
             if len(fields) > 2 and fields[2] == "cgroup2"]
    if not roots:
        pytest.skip("no cgroup v2 hierarchy mounted")
    group = Path(roots[0]) / "pybpf-tools-trace-test"
    group.mkdir(exist_ok=True)
    child = subprocess.Popen([sys.executable, "-c", "import os, time\nwhile True:\n    os.getppid()\n    time.sleep(0.05)"])
    try:
        (group / "cgroup.procs").write_text(str(child.pid))
        out = run_tool("trace", ["-c", str(group), 't:syscalls:sys_enter_getppid "in"'], os.getppid,
                       timing=["--duration", "3"])
    finally:
        child.kill()
        child.wait()
        group.rmdir()
    rows = [line.split() for line in out.splitlines()[1:]]
    assert rows and all(row[0] == str(child.pid) for row in rows)


def test_argdist_counts_and_latency_histogram():
    out = run_tool("argdist", ["-p", ME, "-i", "5", "-C", "p:c:getaddrinfo(char *node, char *service):char*,char*:node,service",
                               "-H", "r:c:getaddrinfo():u64:$latency"], _lookups, timing=["-d", "3"])
    lines = out.splitlines()
    assert lines[0].startswith("[") and "p:c:getaddrinfo(char *node, char *service):char*,char*:node,service" in lines
    count_row = next(line for line in lines if line.endswith("node = localhost, service = 80"))
    calls = int(count_row.split()[0])
    assert calls >= 3
    assert "     latency             : count     distribution" in lines
    timed = sum(int(line.split(":")[1].split("|")[0]) for line in lines if "->" in line)
    assert 3 <= timed <= calls      # calls under way while the probes attach are counted but not timed


def test_argdist_json_tracepoint_filter():
    out = run_tool("argdist", ["--json", "-p", ME, "-i", "1", "-C",
                               "t:syscalls:sys_enter_read():int:args->count:args->count==7777#reads of 7777"], _reads,
                   timing=["-d", "3.5"])
    intervals = [json.loads(line) for line in out.splitlines()]
    assert len(intervals) >= 3
    rows = [row for interval in intervals for probe in interval["probes"] for row in probe["counts"]]
    assert rows and all(row["values"] == {"args->count": 7777} and row["event"] == "args->count = 7777" for row in rows)
    assert intervals[0]["probes"][0]["label"] == "reads of 7777"
    assert sum(row["count"] for row in rows) >= 5


@pytest.mark.parametrize("tool, arguments, error", [
    ("trace", ["p::vfs_read"], "'vfs_read' is a kernel function: kprobes are not available on this kernel; "
                               "the tracepoint t:syscalls:sys_enter_read reports the same event"),
    ("trace", ['p:c:getaddrinfo "%s %d", arg1'], "'p:c:getaddrinfo \"%s %d\", arg1': the format has 2 conversions "
                                                 "but 1 arguments follow"),
    ("trace", ['p:c:getaddrinfo "%d", retval'], "p:c:getaddrinfo: retval is only known in return (r:) probes"),
    ("argdist", ["-H", "p:c:malloc(size_t size)"], "'p:c:malloc(size_t size)': histograms need an expression"),
    ("argdist", ["-C", "p:c:malloc(size_t size):float:size"], "p:c:malloc(size_t size):float:size: unknown type 'float' "
                                                              "(integer types or char*)"),
    ("argdist", ["-C", "p:c:no_such_function_xyz():u64:arg1"], "p:c:no_such_function_xyz: no function 'no_such_function_xyz' "
                                                              "in /lib/x86_64-linux-gnu/libc.so.6"),
])
def test_trace_argdist_bad_specifications(tool, arguments, error):
    ran = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", tool, *arguments], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, check=False, timeout=60)
    assert ran.returncode == 1 and ran.stderr.strip() == f"pybpf tool: error: {error}"
