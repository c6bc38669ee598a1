"""The program flags every C tool shares (pybpf.tools.programflags): ``--cgroupmap`` and
``--mntnsmap`` keep only the tasks whose cgroup / mount namespace is a key of a pinned
hash map — a process inside (a cgroup or mount namespace of the test's own) is seen, the
test process outside is not — and ``--ebpf`` prints a program that compiles."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_tools import SRC, run_tool

from pybpf.tools.programflags import with_task_filter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs and pin maps: root only")


@pytest.fixture
def pinned_set():
    """A hash map (u64 keys) pinned under /sys/fs/bpf, removed afterwards."""
    from pybpf.kernel.maps import create_map
    from pybpf.object.maps import MapSpec

    path = f"/sys/fs/bpf/pybpf_toolscommon_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    kmap = create_map(MapSpec(name="toolscommon_set", type="hash", key_size=8, value_size=8, max_entries=16))
    kmap.pin(path)
    try:
        yield path, kmap
    finally:
        kmap.unpin(path)
        kmap.close()


def _looping_opens(marker: Path, prefix: list[str] = ()) -> list[str]:
    """A command that opens ``marker`` every 50 ms (run under ``prefix``)."""
    return [*prefix, "sh", "-c", f"while true; do cat {marker} >/dev/null 2>&1; sleep 0.05; done"]


def _opened(out: str) -> set[str]:
    return {row.split()[-1] for row in out.splitlines()[1:] if row.split()}


def _run_inside_and_outside(tmp_path, flag: str, path: str, inside: list[str]) -> set[str]:
    """opensnoop ``flag path`` while ``inside`` opens ``tmp_path/inside`` and this process
    opens ``tmp_path/outside``: the paths it printed."""
    outside = tmp_path / "outside"
    out = run_tool("opensnoop", [flag, path], lambda: outside.open("w").close(), timing=["-d", "3"])
    return _opened(out) & {str(tmp_path / "inside"), str(outside)}


def test_cgroupmap_keeps_only_the_mapped_cgroup(tmp_path, pinned_set):
    roots = [fields[1] for fields in (line.split() for line in Path("/proc/mounts").read_text().splitlines())
             if len(fields) > 2 and fields[2] == "cgroup2"]
    if not roots:
        pytest.skip("no cgroup v2 hierarchy mounted (bpf_get_current_cgroup_id reads v2 ids)")
    path, kmap = pinned_set
    group = Path(roots[0]) / f"pybpf_toolscommon_{os.getpid()}"
    group.mkdir()
    child = None
    try:
        kmap[struct.pack("<Q", group.stat().st_ino)] = struct.pack("<Q", 1)   # a cgroup's id is its inode number
        child = subprocess.Popen(_looping_opens(tmp_path / "inside"),
                                 preexec_fn=lambda: (group / "cgroup.procs").write_text("0"))
        seen = _run_inside_and_outside(tmp_path, "--cgroupmap", path, [])
    finally:
        if child is not None:
            child.kill()
            child.wait()
        for _ in range(50):         # the killed child leaves the cgroup a moment later
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    assert seen == {str(tmp_path / "inside")}


def test_mntnsmap_keeps_only_the_mapped_mount_namespace(tmp_path, pinned_set):
    path, kmap = pinned_set
    child = subprocess.Popen(_looping_opens(tmp_path / "inside", ["unshare", "-m"]))
    try:
        mine = os.stat("/proc/self/ns/mnt").st_ino
        deadline = time.monotonic() + 10
        while os.stat(f"/proc/{child.pid}/ns/mnt").st_ino == mine and time.monotonic() < deadline:
            time.sleep(0.02)            # until unshare has made its namespace
        theirs = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
        assert theirs != mine
        kmap[struct.pack("<Q", theirs)] = struct.pack("<Q", 1)
        seen = _run_inside_and_outside(tmp_path, "--mntnsmap", path, [])
    finally:
        child.kill()
        child.wait()
    assert seen == {str(tmp_path / "inside")}


def test_without_a_map_both_are_seen(tmp_path):
    """The filters' tests above fail without the flags: opensnoop alone sees both opens."""
    child = subprocess.Popen(_looping_opens(tmp_path / "inside"))
    try:
        outside = tmp_path / "outside"
        out = run_tool("opensnoop", [], lambda: outside.open("w").close(), timing=["-d", "3"])
    finally:
        child.kill()
        child.wait()
    assert _opened(out) >= {str(tmp_path / "inside"), str(outside)}


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", *arguments], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)


def test_cgroupmap_refuses_what_is_not_a_pinned_u64_hash(tmp_path):
    missing = _cli("opensnoop", "--cgroupmap", "/sys/fs/bpf/pybpf_toolscommon_missing", "-d", "1")
    assert missing.returncode != 0 and "--cgroupmap /sys/fs/bpf/pybpf_toolscommon_missing: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    from pybpf.kernel.maps import create_map
    from pybpf.object.maps import MapSpec

    path = f"/sys/fs/bpf/pybpf_toolscommon_array_{os.getpid()}"
    kmap = create_map(MapSpec(name="toolscommon_arr", type="array", key_size=4, value_size=8, max_entries=4))
    kmap.pin(path)
    try:
        wrong = _cli("execsnoop", "--mntnsmap", path, "-d", "1")
    finally:
        kmap.unpin(path)
        kmap.close()
    assert wrong.returncode != 0 and "4-byte keys" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("arguments", [["execsnoop", "--cgroupmap", "/sys/fs/bpf/x", "--mntnsmap", "/sys/fs/bpf/y"],
                                       ["profile", "--mntnsmap", "/sys/fs/bpf/y"], ["biolatency"], ["tcpconnect"],
                                       ["hardirqs"], ["syscount"]])
def test_ebpf_prints_a_program_that_compiles_and_loads(arguments):
    """--ebpf: the C text (with the filter when asked), at once and nothing else; it
    compiles, and (without the filter's pinned maps) the kernel loads it."""
    from pybpf.engine import load
    from pybpf.object.elf import load_object
    from pybpf.toolchain import compile_c

    started = time.monotonic()
    shown = _cli(*arguments, "--ebpf")
    assert shown.returncode == 0, shown.stderr
    assert time.monotonic() - started < 60 and shown.stdout.startswith("#")
    filtered = "--cgroupmap" in arguments or "--mntnsmap" in arguments
    assert ("if (!tool_task_selected()) return 0;" in shown.stdout) == filtered
    spec = load_object(compile_c(shown.stdout), name="toolscommon")
    if not filtered:
        with load(spec, engine="kernel") as loaded:
            assert loaded.programs


@pytest.mark.parametrize("arguments", [["trace", 't:syscalls:sys_enter_kill "sig %d", args->sig'],
                                       ["argdist", "-C", "t:syscalls:sys_enter_kill():int:args->sig"],
                                       ["funclatency", "c:malloc"], ["memleak"], ["gethostlatency"]])
def test_ebpf_of_trace_language_tools_is_their_program(arguments):
    """--ebpf: the trace-language program, alone on stdout (no header), which compiles."""
    from pybpf.trace.runtime import compile_source

    shown = _cli(*arguments, "--ebpf")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split(":", 1)[0] in ("tracepoint", "uprobe") and "PID" not in shown.stdout
    compile_source(shown.stdout, filename="toolscommon")


def test_the_filter_starts_every_program():
    source = ('#include <vmlinux.h>\n#include <pybpf/bpf.h>\nchar _license[] SEC("license") = "GPL";\n'
              'struct { __uint(type, BPF_MAP_TYPE_HASH); } m SEC(".maps");\n'
              'SEC("tracepoint/a/b")\nint first(void *ctx)\n{\n    return 1;\n}\n'
              'SEC("perf_event") int second(struct bpf_perf_event_data *ctx) { return 2; }\n')
    filtered = with_task_filter(source)
    assert filtered.count("if (!tool_task_selected()) return 0;") == 2
    assert filtered.index("tool_task_selected(void)") < filtered.index("int first")
    assert "{ if (!tool_task_selected()) return 0; return 2; }" in filtered


def test_mntnsmap_filters_a_sampling_tool_too(pinned_set):
    """profile (a perf-event program, loaded by running() rather than stream()): samples of
    a busy process whose mount namespace is in the map are counted; with only another
    namespace in the map, none are."""
    path, kmap = pinned_set
    busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        kmap[struct.pack("<Q", os.stat(f"/proc/{busy.pid}/ns/mnt").st_ino)] = struct.pack("<Q", 1)
        arguments = ["-F", "199", "-p", str(busy.pid), "--mntnsmap", path, "--json", "2"]
        counted = sum(json.loads(line)["count"] for line in run_tool("profile", arguments, lambda: None,
                                                                      timing=[]).splitlines())
        kmap.clear()
        kmap[struct.pack("<Q", 1)] = struct.pack("<Q", 1)            # no namespace has inode 1
        none = run_tool("profile", arguments, lambda: None, timing=[])
    finally:
        busy.kill()
        busy.wait()
    assert counted >= 50 and none.strip() == ""
