"""funccount, funclatency and stackcount (tools on the trace language), run as
``pybpf tool NAME`` while this process calls libc's getaddrinfo() (through
socket.getaddrinfo) or getppid(): the calls show up in the counts, histograms and stacks,
and in ``--json``; kernel-function patterns are refused with the tracepoint to use."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from test_tools import SRC, run_tool, run_tools

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")


def _lookups():
    for _ in range(5):
        socket.getaddrinfo("localhost", 80)


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_funccount_uprobe():
    out = run_tool("funccount", ["-p", str(os.getpid()), "c:getaddrinf*"], _lookups, timing=["-d", "3"])
    lines = out.splitlines()
    assert lines[0].startswith('Tracing ') and '"c:getaddrinf*"' in lines[0]
    rows = dict(line.split() for line in lines[lines.index("FUNC                                    COUNT") + 1:-1])
    assert int(rows["getaddrinfo"]) >= 5 and lines[-1] == "Detaching..."


def test_funccount_json_tracepoint_intervals():
    out = run_tool("funccount", ["--json", "-i", "1", "-p", str(os.getpid()), "t:syscalls:sys_enter_getppi*"],
                   os.getppid, timing=["-d", "3.5"])
    intervals = _json_lines(out)
    assert len(intervals) >= 3
    seen = [row for interval in intervals for row in interval["counts"]]
    assert seen and all(row["func"] == "syscalls:sys_enter_getppid" for row in seen)
    assert sum(row["count"] for row in seen) >= 5


def test_funclatency():
    out = run_tool("funclatency", ["-u", "-p", str(os.getpid()), "c:getaddrinfo"], _lookups, timing=["-d", "3"])
    assert "     usecs               : count     distribution" in out
    counts = [int(line.split(":")[1].split("|")[0]) for line in out.splitlines() if "->" in line]
    summary = next(line for line in out.splitlines() if line.startswith("avg = "))
    assert sum(counts) == int(summary.rsplit("count: ", 1)[1]) >= 5


def test_funclatency_json_per_function():
    out = run_tool("funclatency", ["--json", "-F", "-p", str(os.getpid()), "c:getaddrinfo"], _lookups, timing=["-d", "3"])
    (interval,) = _json_lines(out)
    assert interval["unit"] == "nsecs" and interval["count"] >= 5
    (histogram,) = interval["histograms"]
    assert histogram["function"] == "getaddrinfo" and histogram["pid"] == os.getpid()
    assert sum(b["count"] for b in histogram["buckets"]) == interval["count"]
    assert all(b["low"] >= 1000 for b in histogram["buckets"])    # a lookup takes more than a microsecond


def test_stackcount_user_stacks_and_svg(tmp_path):
    graph = tmp_path / "stacks.svg"
    out = run_tool("stackcount", ["-f", "-p", str(os.getpid()), "--svg", str(graph), "c:getaddrinfo"], _lookups,
                   timing=["-D", "3"])
    lines = [line.rsplit(" ", 1) for line in out.splitlines()]
    comm = open("/proc/self/comm").read().strip()
    assert lines and all(stack.split(";")[0] == comm for stack, _ in lines)      # -p: per process, comm first
    assert any(stack.endswith(";getaddrinfo") and int(count) >= 5 for stack, count in lines)
    assert "getaddrinfo" in graph.read_text()


def test_stackcount_json_kernel_stacks():
    out = run_tool("stackcount", ["--json", "-K", "-p", str(os.getpid()), "t:syscalls:sys_enter_getppid"], os.getppid,
                   timing=["-D", "3"])
    (interval,) = _json_lines(out)
    stacks = interval["stacks"]
    assert stacks and all(s["pid"] == os.getpid() and "user_stack" not in s for s in stacks)
    assert any("do_syscall_64" in s["kernel_stack"] for s in stacks)


@pytest.mark.parametrize("tool", ["funccount", "funclatency", "stackcount"])
def test_funccount_funclatency_stackcount_refuse_kernel_functions(tool):
    env = {**os.environ, "PYTHONPATH": SRC}
    ran = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", tool, "vfs_read"], capture_output=True, text=True,
                         env=env, check=False, timeout=60)
    assert ran.returncode == 1 and not ran.stdout
    assert ran.stderr.strip() == ("pybpf tool: error: 'vfs_read' is a kernel function: kprobes are not available on "
                                  "this kernel; the tracepoint t:syscalls:sys_enter_read reports the same event")


@pytest.mark.parametrize(("tool", "flag", "arguments", "expected"), [
    ("funccount", "-D", ["t:syscalls:sys_enter_getppid"], "tracepoint:syscalls:sys_enter_getppid"),
    ("funclatency", "-v", ["c:getaddrinfo"], "uretprobe:"),
    ("stackcount", "--debug", ["t:syscalls:sys_enter_getppid"], "tracepoint:syscalls:sys_enter_getppid"),
    ("argdist", "-v", ["-C", "t:syscalls:sys_enter_getppid()"], "tracepoint:syscalls:sys_enter_getppid"),
    ("trace", "-v", ["t:syscalls:sys_enter_getppid"], "tracepoint:syscalls:sys_enter_getppid"),
])
def test_debug_flags_print_the_program_on_stderr(tool, flag, arguments, expected):
    duration = ["--duration" if tool == "trace" else "-D" if tool == "stackcount" else "-d", "1"]
    ran = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", tool, flag, *duration, *arguments],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert expected in ran.stderr and expected not in ran.stdout
    quiet = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", tool, *duration, *arguments],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert quiet.returncode == 0 and expected not in quiet.stderr


RECURSIVE = r"""
#include <unistd.h>
__attribute__((noinline)) int pybpf_toolsuser_rec(int n) { if (n <= 1) { usleep(1000); return 1; } return 1 + pybpf_toolsuser_rec(n - 1); }
int main(int argc, char **argv) {
    while (access(argv[1], F_OK) != 0)
        usleep(10000);
    int s = 0;
    for (int i = 0; i < 40; i++)
        s += pybpf_toolsuser_rec(5);        /* five nested calls each */
    return s != 200;
}
"""


LEVELS = (None, "3", "9")


@pytest.fixture(scope="module")
def recursion_reports(tmp_path_factory):
    """funclatency of the recursive program at each of :data:`LEVELS`, side by side, each
    on a child of its own: ``{level: output}``."""
    import time

    if shutil.which("gcc") is None:
        pytest.skip("gcc builds the recursive program")
    folder = tmp_path_factory.mktemp("recursion")
    (folder / "rec.c").write_text(RECURSIVE)
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", str(folder / "rec"), str(folder / "rec.c")],
                   check=True)
    go = folder / "go"
    children = [subprocess.Popen([str(folder / "rec"), str(go)]) for _ in LEVELS]
    started = time.monotonic()

    def start_after_attaching():       # (three tools start at once: 3.5 s, well inside their 5 s)
        if time.monotonic() - started > 3.5:
            go.touch()

    try:
        outputs = run_tools([("funclatency", ["--json", "-p", str(child.pid), *(["-l", level] if level else []),
                                              f"{folder / 'rec'}:pybpf_toolsuser_rec"]) for child, level in zip(children, LEVELS)],
                            start_after_attaching, timing=["-d", "5"])
        assert [child.wait(timeout=30) for child in children] == [0] * len(LEVELS)
    finally:
        for child in children:
            child.kill()
            child.wait()
    return dict(zip(LEVELS, outputs))


@pytest.mark.parametrize(("level", "timed"), [(None, 40), ("3", 120), ("9", 200)])
def test_funclatency_levels_of_recursion(recursion_reports, level, timed):
    """-l LEVEL times the outermost LEVEL calls of each recursion (40 recursions 5 deep);
    without it, only the innermost call of each (its entry is the thread's last)."""
    report = json.loads(recursion_reports[level].splitlines()[-1])
    assert report["count"] == timed == sum(b["count"] for h in report["histograms"] for b in h["buckets"])
