"""for loops over maps and ranges, len(), hist(n, bits), cgroup_path(), uaddr(): run in
the kernel (root) on real events, and beside bpftrace 0.17 where it has the construct
(cgroup_path, uaddr; for, len and hist's second argument came after 0.17)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from test_trace_kernel import BPFTRACE, bpftrace, pybpf_trace

from hist_reference import rows

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tracing programs need root")


def run_ok(*args: str) -> str:
    result = pybpf_trace(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_for_over_maps_and_ranges():
    out = run_ok("-e", r"""
    BEGIN {
      @a[1] = 10; @a[2] = 20; @a[3] = 30;
      @c["x"] = count(); @c["x"] = count(); @c["y"] = count();
      @s = sum(4); @s = sum(5); @lo = min(7); @lo = min(-3); @hi = max(2);
      @m[1, "k"] = 5;
      $sum = 0;
      for ($kv : @a) { $sum += $kv.1; printf("a %d %d\n", $kv.0, $kv.1); }
      for ($kv : @c) { printf("c %s %d\n", $kv.0, $kv.1); }
      for ($kv : @s) { printf("s %d\n", $kv.1); }
      for ($kv : @lo) { printf("lo %d\n", $kv.1); }
      for ($kv : @hi) { printf("hi %d\n", $kv.1); }
      for ($e : @m) { printf("m %d %s %d\n", $e.0.0, $e.0.1, $e.1); }
      printf("sum %d len %d %d %d\n", $sum, len(@a), len(@c), len(@m));
      for ($i : 0..5) { if ($i == 3) { break; } printf("i %d\n", $i); }
      for ($i : 0..3) { if ($i == 1) { continue; } for ($j : 5..7) { printf("ij %d %d\n", $i, $j); } }
      $n = 0; for ($i : 4..2) { $n++; } printf("empty range ran %d\n", $n);
      for ($kv : @a) { if ($kv.0 == 2) { printf("returning\n"); return; } }
      printf("not reached\n");
    }
    BEGIN { exit(); }
    """)
    head, _, maps = out.partition("\n\n\n")
    lines = head.splitlines()
    assert lines[0] == "Attaching 2 probes..."
    # map order is the hash table's; everything else in program order
    assert sorted(lines[1:4]) == ["a 1 10", "a 2 20", "a 3 30"]
    assert sorted(lines[4:6]) == ["c x 2", "c y 1"]
    assert lines[6:] == ["s 9", "lo -3", "hi 2", "m 1 k 5", "sum 60 len 3 2 1", "i 0", "i 1", "i 2",
                         "ij 0 5", "ij 0 6", "ij 2 5", "ij 2 6", "empty range ran 0", "returning"]


def test_for_and_len_on_events_with_return():
    with tempfile.TemporaryDirectory(prefix="trace-loops-") as tmp:
        path = os.path.join(tmp, "opened")
        with open(path, "w") as f:
            f.write("x\n")
        program = (f'tracepoint:syscalls:sys_enter_openat /str(args->filename) == "{path}"/ {{'
                   ' @opened[str(args->filename)] = count(); '
                   ' for ($kv : @opened) { if ($kv.1 > 1) { printf("again %d %s\\n", $kv.1, probe); return; } }'
                   ' printf("first %d\\n", len(@opened)); }'
                   ' END { for ($kv : @opened) { printf("total %d\\n", $kv.1); } clear(@opened); }')
        script = os.path.join(tmp, "cat3.sh")  # -c splits at spaces (no shell quoting), as bpftrace's
        with open(script, "w") as f:
            f.write(f"cat {path} {path} {path} > /dev/null\n")
        out = run_ok("-c", f"/bin/sh {script}", "-e", program)
    assert out == ("Attaching 2 probes...\nfirst 1\nagain 2 tracepoint:syscalls:sys_enter_openat\n"
                   "again 3 tracepoint:syscalls:sys_enter_openat\ntotal 3\n\n\n\n")  # the cleared map: a blank line, as bpftrace


def test_for_refuses_bucketed_maps_and_elements():
    result = pybpf_trace("-e", "BEGIN { @h = hist(3); for ($kv : @h) { } }")
    assert result.returncode == 1 and "hist() values are kept in buckets" in result.stderr
    result = pybpf_trace("-e", "BEGIN { @h[1] = 1; printf(\"%d\", len(@h[1])); }")
    assert result.returncode == 1 and "len() takes a whole map" in result.stderr


@pytest.mark.parametrize("bits", [0, 1, 3])
def test_hist_with_bits_buckets_and_labels(bits):
    values = [-5, 0, 1, 2, 3, 5, 7, 9, 100, 1000, 5000, 70000, 3_000_000]
    program = "BEGIN { " + " ".join(f"@h = hist({v}, {bits});" for v in values) + " exit(); }"
    out = run_ok("-e", program)
    printed = out.split("@h: \n", 1)[1].strip("\n").splitlines()
    expected = rows(values, bits)
    assert len(printed) == len(expected)
    for row, (label, count) in zip(printed, expected):
        assert row.startswith(f"{label:<16}{count:>8} |"), row


def test_hist_bits_must_be_a_small_literal():
    result = pybpf_trace("-e", "BEGIN { @h = hist(1, 9); }")
    assert result.returncode == 1 and "0-5" in result.stderr


CGROUP_ROOT = "/sys/fs/cgroup/unified"


@pytest.mark.skipif(not os.path.isdir(CGROUP_ROOT), reason="no cgroup v2 hierarchy at /sys/fs/cgroup/unified")
def test_cgroup_path_of_a_process_in_a_new_cgroup():
    group = os.path.join(CGROUP_ROOT, f"trace-test-{os.getpid()}")
    os.mkdir(group)
    try:
        with tempfile.TemporaryDirectory(prefix="trace-cgroup-") as tmp:
            script = os.path.join(tmp, "in-cgroup.sh")  # bpftrace 0.17's -c does not honour quotes
            with open(script, "w") as f:
                f.write(f"echo $$ > {group}/cgroup.procs\nexec cat /etc/hostname > /dev/null\n")
            program = ('tracepoint:syscalls:sys_enter_openat /pid == cpid && str(args->filename) == "/etc/hostname"/ '
                       '{ printf("%s|%s\\n", cgroup_path(cgroup), cgroup_path(cgroup, "unified")); }')
            ours = run_ok("-c", f"/bin/sh {script}", "-e", program)
            name = os.path.basename(group)
            assert ours.splitlines()[1] == f"unified:/{name}|unified:/{name}"  # v1 hierarchies lack that id
            if BPFTRACE is not None:
                assert bpftrace("-c", f"/bin/sh {script}", "-e", program).stdout == ours
    finally:
        os.rmdir(group)


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
def test_cgroup_path_printed_as_bpftrace():
    program = 'BEGIN { print(cgroup_path(cgroup)); printf("path: %s\\n", cgroup_path(cgroup, "*e*")); exit(); }'
    assert run_ok("-e", program) == bpftrace("-e", program).stdout


UADDR_PROGRAM = r"""
#include <unistd.h>
int GLOBAL_A = 0x55555555;
short GLOBAL_S = -7;
long GLOBAL_ARRAY[4] = {1, 2, 3, 4};
void tick(int n) { (void)n; }
int main(void) { for (int i = 0; i < 50; i++) { tick(i); usleep(10000); } return 0; }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_uaddr_reads_globals_of_the_probed_binary():
    with tempfile.TemporaryDirectory(prefix="trace-uaddr-") as tmp:
        source, binary = os.path.join(tmp, "globals.c"), os.path.join(tmp, "globals")
        with open(source, "w") as f:
            f.write(UADDR_PROGRAM)
        subprocess.run(["gcc", "-O0", "-no-pie", "-o", binary, source], check=True)
        program = (f'uprobe:{binary}:tick {{ printf("%x %d %d\\n", *uaddr("GLOBAL_A"), *uaddr("GLOBAL_S"), '
                   '*(uaddr("GLOBAL_ARRAY") + 2)); exit(); }')
        ours = run_ok("-c", binary, "-e", program)
        assert ours.splitlines()[1] == "55555555 -7 3"
        if BPFTRACE is not None:
            assert bpftrace("-c", binary, "-e", program).stdout == ours
    result = pybpf_trace("-e", 'BEGIN { printf("%d", uaddr("GLOBAL_A")); }')
    assert result.returncode == 1 and "uaddr can only be used with u(ret)probes and usdt probes" in result.stderr
