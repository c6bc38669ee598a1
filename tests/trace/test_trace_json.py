"""-f json and text output beside bpftrace 0.17's on the same programs: every message
type (attached_probes, printf, cat, map, hist, stats, value) with maps printed in the
same order (by value, total or average as bpftrace sorts them), on BEGIN and on real
tracepoint events of a -c command."""

from __future__ import annotations

import os
import tempfile

import pytest
from test_trace_kernel import BPFTRACE, bpftrace, pybpf_trace

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="tracing programs need root"),
              pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")]

MAPS_PROGRAM = r"""
BEGIN {
  @h[1] = hist(3); @h[1] = hist(300); @h[2] = hist(7);
  @l["a"] = lhist(5, 0, 10, 2); @l["b"] = lhist(50, 0, 10, 2); @l["b"] = lhist(-1, 0, 10, 2);
  @av[1] = avg(10); @av[1] = avg(20); @av[2] = avg(5);
  @st[1] = stats(10); @st[2] = stats(1); @single = stats(4);
  @c[1] = count(); @c[2] = count(); @c[2] = count(); @c[3] = count(); @c[3] = count(); @c[3] = count();
  @b[1] = sum(5); @b[2] = sum(3); @b[3] = sum(-4); @mi["k"] = min(-3); @ma[1, "x"] = max(8);
  @s["hello"] = "world"; @t = (1, "two"); @v = -5;
  print(@c, 2); print(@c, 2, 2); print(@h); print(@av); print((1, "a")); print(5); print("str");
  printf("%s|%5d|%-3s|%x\n", "s", 42, "ab", 255);
  cat("/proc/sys/kernel/ostype");
  @x = 1; delete(@x);
  exit();
}
END { printf("end\n"); }
"""


@pytest.mark.parametrize("output", ["json", "text"])
def test_every_output_type_as_bpftrace(output):
    ours, theirs = pybpf_trace("-f", output, "-e", MAPS_PROGRAM), bpftrace("-f", output, "-e", MAPS_PROGRAM)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("output", ["json", "text"])
def test_tracepoint_events_as_bpftrace(output):
    with tempfile.TemporaryDirectory(prefix="trace-json-") as tmp:
        paths = [os.path.join(tmp, name) for name in ("f1", "f2")]
        for path in paths:
            with open(path, "w") as f:
                f.write("x\n")
        script = os.path.join(tmp, "run.sh")  # bpftrace 0.17's -c does not honour quotes
        with open(script, "w") as f:
            f.write(f"cat {paths[0]} {paths[1]} {paths[1]} > /dev/null\n")  # counts differ: ties have no order
        program = (f'tracepoint:syscalls:sys_enter_openat /pid != {os.getpid()} && '
                   f'strncmp(str(args->filename), "{tmp}/f", {len(tmp) + 2}) == 0/ {{ '
                   '@[str(args->filename)] = count(); @flags = hist(args->flags & 0xff); '
                   'printf("%s %d\\n", comm, args->flags & 3); }')
        ours = pybpf_trace("-f", output, "-c", f"/bin/sh {script}", "-e", program)
        theirs = bpftrace("-f", output, "-c", f"/bin/sh {script}", "-e", program)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
