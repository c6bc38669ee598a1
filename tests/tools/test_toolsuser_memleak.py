"""memleak on a small C program (built here with frame pointers) that leaks 4321 bytes
per round from a uniquely named function and frees a 1234-byte block: the leak's stack
and sizes are reported, the freed block is not; and the kernel mode reads kmem stacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from test_tools import SRC, run_tool, run_tools

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only"),
              pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the leaking program")]

LEAKER = r"""
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) void *pybpf_toolsuser_leak(size_t n) { return malloc(n); }
int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    for (int i = 0; i < rounds; i++) {
        void *volatile kept = pybpf_toolsuser_leak(4321);
        free(malloc(1234));
        (void)kept;
        usleep(10000);
    }
    return 0;
}
"""


@pytest.fixture
def leaker_program(tmp_path):
    source = tmp_path / "leaker.c"
    source.write_text(LEAKER)
    subprocess.run(["gcc", "-O1", "-fno-omit-frame-pointer", "-o", str(tmp_path / "leaker"), str(source)], check=True)
    return tmp_path / "leaker"


@pytest.fixture
def leaker(leaker_program):
    process = subprocess.Popen([str(leaker_program)])
    yield process
    process.kill()
    process.wait()


def test_memleak_user_stacks(leaker):
    out = run_tool("memleak", ["-p", str(leaker.pid), "-o", "0", "-a", "1"], lambda: None, timing=["-d", "2.5"])
    lines = out.splitlines()
    assert lines[0] == f"Attaching to pid {leaker.pid}, Ctrl+C to quit."
    sizes = {line.split("size = ")[1] for line in lines if line.startswith("\taddr = ")}
    assert sizes == {"4321"}                                  # the freed 1234-byte blocks are gone
    summary = [i for i, line in enumerate(lines) if line.endswith("allocations from stack")]
    assert summary and lines[summary[-1] + 1].startswith("\t\tpybpf_toolsuser_leak+")
    total, count = lines[summary[-1]].split()[0], lines[summary[-1]].split()[3]
    assert int(total) == 4321 * int(count) and int(count) >= 10


def test_memleak_json_size_bounds(leaker):
    out, larger = run_tools([("memleak", ["--json", "-p", str(leaker.pid), "-o", "0", "-z", "1000", "-Z", "2000", "1"]),
                             ("memleak", ["--json", "-p", str(leaker.pid), "-o", "0", "-z", "4000", "1"])], lambda: None,
                            timing=["-d", "2.5"])
    reports = [json.loads(line) for line in out.splitlines()]
    assert len(reports) >= 2
    # only 1234-byte blocks pass, and each is freed right after: a report finds at most the
    # one in flight between its malloc and its free
    assert all(stack["bytes"] == 1234 and stack["count"] == 1 for report in reports for stack in report["stacks"])
    stacks = json.loads(larger.splitlines()[-1])["stacks"]
    assert stacks and stacks[-1]["stack"][0].startswith("pybpf_toolsuser_leak") and stacks[-1]["bytes"] % 4321 == 0


def test_memleak_kernel_json():
    out = run_tool("memleak", ["--json", "-T", "3", "1"], lambda: os.listdir("/proc/self/fd"), timing=["-d", "2.5"])
    stacks = [stack for line in out.splitlines() for stack in json.loads(line)["stacks"]]
    assert stacks and all(s["bytes"] > 0 and s["count"] > 0 and s["stack"] for s in stacks)


def test_memleak_command_json(leaker_program):
    """-c runs the command held until the probes are attached, and stops when it exits:
    all 150 rounds' leaks are seen (none of them younger than -o 0 ms at the end)."""
    out = run_tool("memleak", ["--json", "-o", "0", "-c", f"{leaker_program} 150", "1"], lambda: None, timing=[])
    reports = [json.loads(line) for line in out.splitlines()]
    (stack,) = reports[-1]["stacks"]
    assert stack["count"] == 150 and stack["bytes"] == 150 * 4321
    assert stack["stack"][0].startswith("pybpf_toolsuser_leak+")


def test_memleak_folded_flame_graph_and_speedscope(leaker_program, tmp_path):
    """-f prints each report as folded stacks weighted by outstanding bytes (a blank line
    between reports), and --svg/--speedscope hold the last report's stacks: at the end,
    all 100 rounds' leaks under main;pybpf_toolsuser_leak, the freed blocks nowhere."""
    from pybpf.output import parse_folded

    graph, scope = tmp_path / "leaks.svg", tmp_path / "leaks.speedscope.json"
    out = run_tool("memleak", ["-f", "-o", "0", "--svg", str(graph), "--speedscope", str(scope),
                               "-c", f"{leaker_program} 100", "1"], lambda: None, timing=[])
    reports = out.split("\n\n")
    assert "Attaching" not in out and len(reports) >= 1
    ((frames, leaked),) = parse_folded(reports[-1])
    assert frames[-2:] == ("main", "pybpf_toolsuser_leak") and leaked == 100 * 4321
    assert all(leaked == 4321 * (leaked // 4321) for report in reports for _, leaked in parse_folded(report))
    document = json.loads(scope.read_text())
    names = [frame["name"] for frame in document["shared"]["frames"]]
    (profile,) = document["profiles"]
    assert [[names[i] for i in sample] for sample in profile["samples"]] == [list(frames)]
    assert profile["weights"] == [leaked]
    text = graph.read_text()
    assert text.startswith("<?xml") and "pybpf_toolsuser_leak" in text and "memleak outstanding bytes" in text


def test_memleak_folded_refuses_trace(leaker_program):
    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "memleak", "-f", "-t", "-c", str(leaker_program)],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC})
    assert result.returncode != 0 and result.stderr.strip().endswith("-f prints only folded stacks: it goes without -t")


def test_memleak_sample_rate(leaker_program):
    """-s 4 records about one allocation in four (BCC samples by the clock)."""
    out = run_tool("memleak", ["--json", "-o", "0", "-s", "4", "-c", f"{leaker_program} 400", "1"], lambda: None,
                   timing=[])
    (stack,) = json.loads(out.splitlines()[-1])["stacks"]
    assert 40 <= stack["count"] <= 200 and stack["bytes"] == 4321 * stack["count"]      # of 400, about 100


def test_memleak_percpu_sees_percpu_map_memory():
    """--percpu: the per-CPU allocator's outstanding allocations — here those of per-CPU
    array maps the test creates and holds, 4 values of 2048 bytes each."""
    from pybpf.kernel.maps import create_map
    from pybpf.object import MapSpec, MapType

    held = []

    def create():
        held.append(create_map(MapSpec(name="pybpf_tools_pc", type=MapType.PERCPU_ARRAY, key_size=4, value_size=2048,
                                       max_entries=4)))

    try:
        out = run_tool("memleak", ["--json", "--percpu", "-o", "0", "1"], create, timing=["-d", "2.5"])
    finally:
        for map_ in held:
            map_.close()
    stacks = json.loads(out.splitlines()[-1])["stacks"]
    ours = [s for s in stacks if any(frame.startswith("bpf_map_alloc_percpu") for frame in s["stack"])]
    assert ours and all(s["bytes"] == 2048 * s["count"] for s in ours) and sum(s["count"] for s in ours) >= 4


def test_memleak_trace_prints_each_allocation_and_free(leaker_program):
    """-t: with -c, every one of 30 rounds' allocations (4321 and 1234 bytes) and the free of
    the 1234-byte block, whose address and size are the allocation's; the report follows."""
    out = run_tool("memleak", ["--json", "-t", "-o", "0", "-c", f"{leaker_program} 30", "5"], lambda: None, timing=[])
    lines = [json.loads(line) for line in out.splitlines()]
    events = [line for line in lines if "event" in line]
    allocated = {e["address"]: e["size"] for e in events if e["event"] == "alloc"}
    sizes = [e["size"] for e in events if e["event"] == "alloc"]
    assert sizes.count(4321) == 30 and sizes.count(1234) == 30
    freed = [e for e in events if e["event"] == "free" and e["size"]]
    assert len(freed) == 30 and all(e["size"] == 1234 for e in freed)
    assert all(e["address"] in allocated for e in freed)
    (stack,) = lines[-1]["stacks"]
    assert stack["count"] == 30 and stack["bytes"] == 30 * 4321
