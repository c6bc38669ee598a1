"""``pybpf record`` of a tool in each format, read back by ``pybpf report`` (and the
CTF by babeltrace2, the Chrome JSON by its JSON reader)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}


def _pybpf(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf.cli", *arguments], check=False, capture_output=True, text=True, env=ENV,
                          timeout=120)


FORMATS = ("jsonl", "chrome", "ctf")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """``pybpf record`` of execsnoop in each format, side by side while a program under a
    name of its own runs: ``(marker, {format: (output, exit status, stderr)})``."""
    folder = tmp_path_factory.mktemp("record")
    marker = folder / "pybpfrecord_t"
    shutil.copy("/bin/true", marker)
    processes = {fmt: subprocess.Popen([sys.executable, "-m", "pybpf.cli", "record", "-o", str(folder / f"trace.{fmt}"),
                                        "--format", fmt, "--", "execsnoop", "-d", "5", "-n", "^pybpfrecord"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
                 for fmt in FORMATS}
    try:
        deadline = time.monotonic() + 120
        while any(p.poll() is None for p in processes.values()) and time.monotonic() < deadline:
            subprocess.run([marker], check=True)
            time.sleep(0.2)
        results = {}
        for fmt, process in processes.items():
            _, err = process.communicate(timeout=30)
            results[fmt] = (folder / f"trace.{fmt}", process.returncode, err)
        return marker, results
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="recording loads BPF programs: root only")
@pytest.mark.parametrize("fmt", FORMATS)
def test_record_and_report(recordings, fmt):
    if fmt == "ctf" and shutil.which("babeltrace2") is None:
        pytest.skip("babeltrace2 is not installed")
    marker, results = recordings
    output, status, err = results[fmt]
    assert status == 0, err
    recorded = int(err.split()[1])
    assert recorded > 0
    report = _pybpf("report", str(output))
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert lines[1] == "tool:     execsnoop" and lines[2] == f"events:   {recorded}"
    assert f"{recorded:>8}  pybpfrecord_t" in report.stdout and f"{recorded:>8}  {marker}" in report.stdout
    if fmt == "chrome":
        events = json.loads(output.read_text())["traceEvents"]
        assert all(e["ph"] == "i" and e["args"]["comm"] == "pybpfrecord_t" for e in events)
    if fmt == "ctf":
        shown = subprocess.run(["babeltrace2", str(output)], capture_output=True, text=True, check=True).stdout
        assert shown.count(f'path = "{marker}"') == recorded


def test_report_refuses_other_files(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    result = _pybpf("report", str(other))
    assert result.returncode == 1
    assert result.stderr.strip() == f"pybpf report: error: {other}: not a pybpf recording (CTF directory, Chrome JSON or pybpf JSON lines)"
    result = _pybpf("record", "-o", str(tmp_path / "x"), "--", "syscount")
    assert result.returncode == 1 and "cannot be recorded" in result.stderr


@pytest.mark.parametrize("content, message", [
    (b"garbage\0\xff", "byte 8: not a pybpf recording (not UTF-8 text)"),
    (b'{"traceEvents": [{"x": 1}]}', "not a Chrome trace pybpf wrote"),
    (b'{"traceEvents": [', "not a Chrome trace pybpf wrote"),
    (b'{"pybpf_record": 1, "tool": "execsnoop"}\n5\n', ":2: not an event (a JSON object)"),
    (b"[1, 2]\n", "not a pybpf recording"),
])
def test_report_of_a_damaged_recording_is_one_line(tmp_path, content, message):
    damaged = tmp_path / "recording"
    damaged.write_bytes(content)
    result = _pybpf("report", str(damaged))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"pybpf report: error: {damaged}") and message in result.stderr
