"""trace's -b (the event buffer's size), -B (STRCMP on bytes) and -I (a header's structs in
expressions; argdist's -I too), on a small program built here that passes a struct and
strings to functions of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from test_tools import SRC, run_tool, run_tools

from pybpf.tools.bccprobes import header_definitions

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")

HEADER = r"""
#include <stddef.h>
/* the shapes the program passes around */
struct point { int x; int y; char label[8]; };
typedef struct { struct point a; struct point b; } segment_t;
void toolscommon_show(struct point *p);
static inline int toolscommon_twice(int v) { return 2 * v; }
"""

PROGRAM = r"""
#include <unistd.h>
#include "shapes.h"
__attribute__((noinline, used)) void toolscommon_show(struct point *p) { __asm__ volatile("" :: "r"(p) : "memory"); }
__attribute__((noinline, used)) void toolscommon_tag(const char *s, const void *bytes) {
    __asm__ volatile("" :: "r"(s), "r"(bytes) : "memory");
}
int main(void) {
    for (int i = 0; i < 100000; i++) {
        struct point p = { 1000 + i % 7, -5, "pt" };
        toolscommon_show(&p);
        int a = 108, b = 0x6c01;
        toolscommon_tag("abcdef", &a);
        toolscommon_tag("xbc", &b);
        usleep(20000);
    }
}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("toolscommon_trace")
    (directory / "shapes.h").write_text(HEADER)
    (directory / "prog.c").write_text(PROGRAM)
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O1", "-o", str(directory / "prog"),
                    str(directory / "prog.c")], check=True, capture_output=True)
    return directory


@pytest.fixture
def running(built):
    process = subprocess.Popen([str(built / "prog")])
    yield built
    process.kill()
    process.wait()


def _messages(out: str) -> list[str]:
    """Each event's message (after PID TID COMM FUNC)."""
    return [" ".join(line.split()[4:]) for line in out.splitlines()[1:] if line.strip()]


def test_include_gives_expressions_the_headers_structs(running):
    binary = running / "prog"
    probe = f'p:{binary}:toolscommon_show(struct point *p) "%d %d %s", p->x, p->y, p->label'
    cast = f'p:{binary}:toolscommon_show "%d", ((struct point *)arg1)->y'
    out, casted = run_tools([("trace", ["-I", str(running / "shapes.h"), probe]),
                             ("trace", ["-I", str(running / "shapes.h"), cast])], lambda: None, timing=["--duration", "2"])
    seen = set(_messages(out))
    assert seen and seen <= {f"{x} -5 pt" for x in range(1000, 1007)}
    assert set(_messages(casted)) == {"-5"}
    refused = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "trace", "--duration", "1", probe],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert refused.returncode != 0 and "unknown type 'struct point *'" in refused.stderr


def test_argdist_include(running):
    out = run_tool("argdist", ["-I", str(running / "shapes.h"), "-i", "5", "-C",
                               f"p:{running / 'prog'}:toolscommon_show(struct point *p):int:p->x"],
                   lambda: None, timing=["-d", "2"])
    values = {line.split("p->x = ")[1] for line in out.splitlines() if "p->x = " in line}
    assert values and values <= {str(x) for x in range(1000, 1007)}


def test_header_definitions_take_structs_and_unions_only(tmp_path):
    header = tmp_path / "defs.h"
    header.write_text(HEADER + "union u { int i; char c[4]; };\nenum e { A, B };\nextern int counter;\n"
                      "#define LONG_MACRO(x) \\\n    ((x) + 1)\ntypedef struct node { struct node *next; } node_t;\n")
    assert header_definitions([str(header), "linux/sched.h"]).splitlines() == [
        "struct point { int x; int y; char label[8]; };",
        "struct segment_t { struct point a; struct point b; };",
        "union u { int i; char c[4]; };",
        "struct node { struct node *next; };"]
    from pybpf.tools.events import ToolError

    with pytest.raises(ToolError, match="-I toolscommon_missing.h: no such header"):
        header_definitions(["toolscommon_missing.h"])


def test_strcmp_compares_text_and_with_b_bytes(running):
    binary = running / "prog"
    text = f'p:{binary}:toolscommon_tag(char *s, void *b) (STRCMP("abc", s)) "%s", s'
    # 108 as a little-endian int; BCC compares all the array's bytes but the last
    binary_probe = f'p:{binary}:toolscommon_tag(char *s, void *b) (STRCMP("{{0x6c, 0x00, 0x00, 0x00}}", b)) "%s", s'
    as_text, as_bytes, array_as_text = map(_messages, run_tools(
        [("trace", [text]), ("trace", ["-B", binary_probe]), ("trace", [binary_probe])], lambda: None,
        timing=["--duration", "2"]))
    assert set(as_text) == {"abcdef"}
    assert set(as_bytes) == {"abcdef"}
    # without -B the array is text, which no string here begins with
    assert array_as_text == []


def _ring_size_of(arguments: list[str]) -> int:
    """The max_entries of the ring buffer map the running `pybpf tool trace ARGUMENTS` holds."""
    process = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "tool", "trace", "--duration", "8", *arguments],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": SRC})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            for fd in os.listdir(f"/proc/{process.pid}/fdinfo"):
                try:
                    info = dict(line.split(":", 1) for line in open(f"/proc/{process.pid}/fdinfo/{fd}") if ":" in line)
                except OSError:
                    continue
                if info.get("map_type", "").strip() == "27":          # BPF_MAP_TYPE_RINGBUF
                    return int(info["max_entries"])
            time.sleep(0.1)
        raise AssertionError(f"no ring buffer seen: {process.stderr.read() if process.poll() is not None else ''}")
    finally:
        process.kill()
        process.wait()


def test_buffer_pages_size_the_event_buffer():
    from pybpf.engine.cpus import possible_cpus

    probe = "t:syscalls:sys_enter_getppid"
    total = 8 * os.sysconf("SC_PAGE_SIZE") * possible_cpus()
    assert _ring_size_of(["-b", "8", probe]) == 1 << (total - 1).bit_length()
    assert _ring_size_of([probe]) == 1 << 20
    refused = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "trace", "-b", "6", probe],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert refused.returncode != 0 and "-b 6: the buffer's pages must be a power of two" in refused.stderr
