"""biosnoop, biolatency and bitesize, run as ``pybpf tool NAME`` while a copy of dd under
a name of the test's own writes a file with O_DIRECT (so each 64 KiB block reaches the
disk as one request): its requests show up in the rows, histograms and ``--json``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from toolsnet_helpers import json_lines, rows, tool_output

NAME = "toolsnet_dd"


def _disk_of(path: Path) -> str | None:
    """The disk (from /proc/diskstats) holding ``path``, or None (tmpfs, overlay...)."""
    st = os.stat(path)
    for line in Path("/proc/diskstats").read_text().splitlines():
        major, minor, name = line.split()[:3]
        if (int(major), int(minor)) == (os.major(st.st_dev), os.minor(st.st_dev)):
            whole = Path(f"/sys/class/block/{name}/partition").exists()
            return Path(f"/sys/class/block/{name}").resolve().parent.name if whole else name
    return None


pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only"),
              pytest.mark.skipif(not Path("/sys/kernel/tracing/events/block/block_rq_issue").exists(),
                                 reason="no block:block_rq_issue tracepoint")]


@pytest.fixture
def writes(tmp_path):
    """A workload writing 64 KiB blocks with O_DIRECT to a file on a real disk; and the disk."""
    disk = _disk_of(tmp_path)
    if disk is None:
        pytest.skip(f"{tmp_path} is not on a block device: no block I/O to see")
    dd = tmp_path / NAME
    shutil.copy(shutil.which("dd") or "/bin/dd", dd)
    target = tmp_path / "toolsnet-block-target"
    command = ["sh", "-c", f"while true; do {dd} if=/dev/zero of={target} bs=64k count=16 oflag=direct conv=notrunc "
               "2>/dev/null; sleep 0.05; done"]
    return command, disk


def test_biosnoop_rows_of_direct_writes(writes):
    command, disk = writes
    out = tool_output("biosnoop", ["-n", NAME], command)
    assert out.splitlines()[0].split() == ["TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES", "LAT(ms)"]
    found = [row for row in rows(out) if row[4] == "W"]       # (a file system may discard or flush too)
    assert len(found) >= 16, out
    assert all(row[1] == NAME and row[3] == disk and row[6] == "65536" and float(row[7]) >= 0 for row in found)


def test_biosnoop_json_with_queue_and_pattern(writes):
    command, disk = writes
    events = [e for e in json_lines(tool_output("biosnoop", ["-n", NAME, "-Q", "-P", "--json", "--disk", disk], command))
              if e["type"] == "W"]
    assert len(events) >= 16
    assert all(e["comm"] == NAME and e["bytes"] == 65536 and e["disk"] == disk for e in events)
    assert all(e["latency_ns"] > 0 and e["queue_ns"] >= 0 for e in events)
    assert {e["pattern_text"] for e in events} <= {"S", "R", "?"} and any(e["pattern_text"] == "S" for e in events)


def test_biolatency_per_disk_and_flags(writes):
    command, disk = writes
    out = tool_output("biolatency", ["-D"], command)
    assert out.splitlines()[0] == "Tracing block device I/O... Hit Ctrl-C to end."
    section = out.split(f"disk = {disk}\n")[1].split("disk = ")[0]
    assert section.splitlines()[0].split()[:3] == ["usecs", ":", "count"]
    assert sum(int(line.split()[4]) for line in section.splitlines()[1:] if "->" in line) >= 16
    report = json_lines(tool_output("biolatency", ["-F", "--json", "-m"], command))
    assert len(report) == 1 and report[0]["unit"] == "msecs"
    writes_seen = [h for h in report[0]["histograms"] if "W" in h["flags"]]
    assert writes_seen and sum(b["count"] for h in writes_seen for b in h["buckets"]) >= 16


def test_bitesize_sizes_per_command(writes):
    command, _ = writes
    out = tool_output("bitesize", [], command)
    section = out.split(f"Process Name = {NAME}\n")[1].split("Process Name = ")[0]
    counts = {line.split()[0]: int(line.split()[4]) for line in section.splitlines()[1:] if "->" in line}
    # 64 KiB: the 64 -> 127 row (the file system may write a metadata block in dd's name too)
    assert counts["64"] >= 16 and counts["64"] >= 0.8 * sum(counts.values()), section
    report = json_lines(tool_output("bitesize", ["--json"], command))
    ours = next(h for h in report[0]["histograms"] if h["comm"] == NAME)
    sizes = {(b["low"], b["high"]): b["count"] for b in ours["buckets"]}
    assert sizes[64, 127] >= 16 and sizes[64, 127] >= 0.8 * sum(sizes.values())


def test_unknown_disk_is_refused():
    import subprocess
    import sys

    from toolsnet_helpers import PYTHON_ENV

    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "biolatency", "--disk", "toolsnet-nodisk"],
                            capture_output=True, text=True, env=PYTHON_ENV, timeout=60)
    assert result.returncode != 0 and "no such disk" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("babeltrace2") is None, reason="babeltrace2 is not installed")
def test_biosnoop_records_to_ctf_that_babeltrace2_reads(writes, tmp_path):
    import subprocess
    import sys

    from toolsnet_helpers import PYTHON_ENV

    command, _ = writes
    trace = tmp_path / "bio.ctf"
    load = subprocess.Popen(command)
    try:
        recorded = subprocess.run([sys.executable, "-m", "pybpf.cli", "record", "-o", str(trace), "--format", "ctf",
                                   "--", "biosnoop", "-d", "4", "-n", NAME], capture_output=True, text=True,
                                  env=PYTHON_ENV, timeout=120)
    finally:
        load.kill()
        load.wait()
    assert recorded.returncode == 0, recorded.stderr
    lines = subprocess.run(["babeltrace2", str(trace)], capture_output=True, text=True, check=True).stdout.splitlines()
    ours = [line for line in lines if f'comm = "{NAME}"' in line and "bytes = 65536" in line]
    assert len(ours) >= 16 and all(" biosnoop: {" in line for line in ours)


def test_biolatency_extension_sums_agree_with_the_histogram(writes):
    command, _ = writes
    report = json_lines(tool_output("biolatency", ["-e", "-j"], command))[0]      # -j: BCC's --json
    counted = sum(b["count"] for h in report["histograms"] for b in h["buckets"])
    assert report["count"] == counted >= 16
    assert report["avg"] == report["total"] // report["count"]
    low = sum((b["low"] or 0) * b["count"] for h in report["histograms"] for b in h["buckets"])
    high = sum(b["high"] * b["count"] for h in report["histograms"] for b in h["buckets"])
    assert low <= report["total"] <= high           # each value lies in its bucket
