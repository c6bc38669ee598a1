"""watchpoint:/asyncwatchpoint: probes (perf hardware breakpoints) on an absolute address
of the -c process, beside bpftrace 0.17 on the same program; and the checks of the
address, length and mode bpftrace makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from test_trace_kernel import BPFTRACE, bpftrace, pybpf_trace

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="watchpoints need root")

WRITER = r"""
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void) {
  volatile uint32_t *p = mmap((void *)0x20000000, 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if ((long)p == -1) return 1;
  for (uint32_t i = 1; i <= 5; i++) { p[1] = i; usleep(1000); }
  uint32_t sum = 0;
  for (int i = 0; i < 3; i++) sum += p[1];
  return (int)(sum & 1);
}
"""


@pytest.fixture(scope="module")
def writer():
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    with tempfile.TemporaryDirectory(prefix="trace-watch-") as tmp:
        source, binary = os.path.join(tmp, "writer.c"), os.path.join(tmp, "writer")
        with open(source, "w") as f:
            f.write(WRITER)
        subprocess.run(["gcc", "-O0", "-o", binary, source], check=True)
        yield binary


@pytest.mark.parametrize("kind", ["watchpoint", "asyncwatchpoint"])
def test_write_watchpoint_sees_each_store(writer, kind):
    program = f'{kind}:0x20000004:4:w {{ @writes = count(); printf("%s\\n", comm); }}'
    result = pybpf_trace("-c", writer, "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Attaching 1 probe...\n" + "writer\n" * 5 + "\n\n@writes: 5\n"
    if BPFTRACE is not None and kind == "watchpoint":  # (bpftrace 0.17 cannot compile `probe` here)
        assert bpftrace("-c", writer, "-e", program).stdout == result.stdout
    result = pybpf_trace("-c", writer, "-e", f'{kind}:0x20000004:4:w {{ printf("%s\\n", probe); exit(); }}')
    assert result.stdout == f"Attaching 1 probe...\n{kind}:0x20000004:4:w\n\n\n"


def test_read_write_watchpoint_counts_reads_too_and_exit_stops(writer):
    result = pybpf_trace("-c", writer, "-e", 'watchpoint:0x20000004:4:rw { @n = count(); }')
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("@n: 8\n")  # 5 stores, 3 loads
    result = pybpf_trace("-c", writer, "-e", 'watchpoint:0x20000004:4:w { printf("hit!\\n"); exit(); }')
    assert result.stdout == "Attaching 1 probe...\nhit!\n\n\n"


@pytest.mark.parametrize("point, message", [
    ("watchpoint:0:4:w", "non-zero address"),
    ("watchpoint:0x1000:3:w", "length must be one of (1,2,4,8)"),
    ("watchpoint:0x1000:4:q", "mode must be combination of (r,w,x)"),
    ("watchpoint:0x1000:4:ww", "may not be duplicated"),
    ("watchpoint:0x1000:8:rx", "invalid watchpoint mode: rx"),
    ("watchpoint:increment+arg1:4:w", "FUNCTION+argN form is not supported"),
])
def test_watchpoint_checks(point, message):
    result = pybpf_trace("-e", f"{point} {{ exit(); }}")
    assert result.returncode == 1 and message in result.stderr
