"""BCC's flags of execsnoop (argv, failures, quoting, line filter, argument count),
opensnoop (full paths, buffer pages) and tcpconnect (DNS names), each run as ``pybpf
tool`` while the test triggers the events."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from test_tools import SRC, _json_lines, run_tool

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")


@pytest.fixture
def marker(tmp_path):
    """A shell under a unique name, run with the arguments a test gives it."""
    path = tmp_path / "pybpfexec_t"
    shutil.copy("/bin/sh", path)
    return path


def _rows(out: str) -> list[str]:
    return out.splitlines()[1:]


def _run(*argv) -> None:
    try:
        subprocess.run([str(arg) for arg in argv], check=False)
    except OSError:                     # the failed exec the test wants traced
        pass


def test_execsnoop_shows_failed_execs_with_x(marker, tmp_path):
    missing = tmp_path / "pybpf-no-such-program"

    def trigger():
        _run(marker, "-c", "true")
        _run(missing, "some", "args")

    plain = _rows(run_tool("execsnoop", ["-P", str(os.getpid())], trigger))
    assert any(row.endswith(f" 0 {marker} -c true") for row in plain)
    assert not any(str(missing) in row for row in plain)
    failing = _rows(run_tool("execsnoop", ["-x", "-P", str(os.getpid())], trigger))
    assert any(row.endswith(f" 0 {marker} -c true") for row in failing)
    # the child that failed to exec is still the forked Python: its comm, RET -ENOENT
    assert any(row.split()[3] == "-2" and row.endswith(f" -2 {missing} some args") for row in failing)


def test_execsnoop_quotes_and_cuts_arguments(marker):
    arguments = ["-c", ': "$0"', "two words", 'say "hi"', "extra"]
    out = run_tool("execsnoop", ["-q", "--max-args", "5", "-P", str(os.getpid())], lambda: _run(marker, *arguments))
    quoted = f'"{marker}" "-c" ": \\"$0\\"" "two words" "say \\"hi\\"" "..."'
    assert any(row.endswith(" 0 " + quoted) for row in _rows(out)), out
    events = _json_lines(run_tool("execsnoop", ["--json", "--max-args", "6", "-P", str(os.getpid())],
                                  lambda: _run(marker, *arguments)))
    assert events and all(e["argv"] == [str(marker), *arguments] and not e["truncated"] for e in events)
    assert all(e["args"] == " ".join([str(marker), *arguments]) for e in events)
    cut = _json_lines(run_tool("execsnoop", ["--json", "--max-args", "2", "-P", str(os.getpid())],
                               lambda: _run(marker, *arguments)))
    assert cut and all(e["argv"] == [str(marker), "-c"] and e["truncated"] and e["args"] == f"{marker} -c ..." for e in cut)


def test_execsnoop_line_filter(marker):
    def trigger():
        _run(marker, "-c", "true", "pybpf-line-yes")
        _run(marker, "-c", "true", "pybpf-other")

    rows = _rows(run_tool("execsnoop", ["-l", "pybpf-l[i]ne", "-P", str(os.getpid())], trigger))
    assert rows and all(row.endswith(f"{marker} -c true pybpf-line-yes") for row in rows)


@pytest.mark.parametrize("flags, message", [(["--max-args", "0"], "0 arguments: expected 1 to 1024"),
                                            (["-l", "("], "is not a regular expression")])
def test_execsnoop_refuses_bad_flags(flags, message):
    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "execsnoop", *flags], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_opensnoop_full_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pybpf-relative").write_text("x")
    absolute = tmp_path / "pybpf-absolute"
    absolute.write_text("x")
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)

    def trigger():
        subprocess.run(["cat", "sub/pybpf-relative"], cwd=tmp_path, check=True, stdout=subprocess.DEVNULL)
        absolute.read_text()
        os.close(os.open("sub/pybpf-relative", os.O_RDONLY, dir_fd=directory))    # openat(dfd, relative)

    try:
        paths = [row.split()[-1] for row in _rows(run_tool("opensnoop", ["-F", "-n", "^(cat|python)"], trigger))]
        plain = [row.split()[-1] for row in _rows(run_tool("opensnoop", ["-n", "^(cat|python)"], trigger))]
        events = _json_lines(run_tool("opensnoop", ["-F", "--json", "-p", str(os.getpid())], trigger))
    finally:
        os.close(directory)
    relative = str(tmp_path / "sub" / "pybpf-relative")
    assert paths.count(relative) >= 4 and str(absolute) in paths            # cat's and the openat's
    assert "sub/pybpf-relative" not in paths
    assert "sub/pybpf-relative" in plain and relative not in plain
    opened = [e for e in events if e["path"] == relative]
    assert opened and all(e["dir"] == str(tmp_path) for e in opened)
    assert all(e["dir"] == "" for e in events if e["path"] == str(absolute))


def _ring_buffers(pid: int) -> list[int]:
    """The sizes of the ring buffer maps process ``pid`` holds (from its fds' fdinfo;
    several fds may hold one map)."""
    sizes = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-map":
                continue
            info = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/fdinfo/{fd}").read().splitlines()
                        if ":\t" in line)
        except OSError:
            continue
        if info.get("map_type", "").strip() == "27":                        # BPF_MAP_TYPE_RINGBUF
            sizes[info["map_id"]] = int(info["max_entries"])
    return list(sizes.values())


@pytest.mark.parametrize("flags, size", [(["-b", "2"], 2 * os.sysconf("SC_PAGE_SIZE")), ([], 1 << 20)])
def test_opensnoop_buffer_pages(flags, size):
    process = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "tool", "opensnoop", "-d", "30", *flags],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC})
    try:
        deadline = time.monotonic() + 60
        while not _ring_buffers(process.pid) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ring_buffers(process.pid) == [size]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_opensnoop_refuses_a_buffer_that_is_no_power_of_two():
    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "opensnoop", "-b", "3"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert result.returncode != 0 and "3 pages: the ring buffer needs a power of two" in result.stderr
