"""Each tool, run as ``pybpf tool NAME`` for a few seconds while the test triggers its
event over and over: the event shows up in the table, and in the ``--json`` objects."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pybpf.tools import NAMES

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")

SRC = str(Path(__file__).resolve().parents[2] / "src")
DURATION = 4.0


def run_tool(name: str, arguments: list[str], trigger, timing: list[str] | None = None) -> str:
    """The output of ``pybpf tool NAME -d DURATION ARGUMENTS`` while ``trigger()`` runs
    every 0.2 s (the tool compiles and loads first, so early triggers may go unseen)."""
    (out,) = run_tools([(name, arguments)], trigger, timing)
    return out


def run_tools(runs: list[tuple[str, list[str]]], trigger, timing: list[str] | None = None) -> list[str]:
    """The outputs of several runs as :func:`run_tool`'s, side by side, while one
    ``trigger()`` loop serves them all: runs that watch the same events (a tool with
    other flags) need not wait for each other's durations."""
    env = {**os.environ, "PYTHONPATH": SRC}
    with contextlib.ExitStack() as stack:
        started = []
        for name, arguments in runs:
            # the output goes to files: a pipe nobody reads while the triggers run would fill
            # (64 KB) and stop the tool in its write until the deadline
            out, err = (stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(2))
            process = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "tool", name,
                                        *(["-d", str(DURATION)] if timing is None else timing), *arguments],
                                       stdout=out, stderr=err, text=True, env=env)
            stack.callback(_end, process)
            started.append((process, out, err))
        deadline = time.monotonic() + 120
        while any(p.poll() is None for p, _, _ in started) and time.monotonic() < deadline:
            trigger()
            time.sleep(0.2)
        outputs = []
        for process, out, err in started:
            process.wait(timeout=30)
            out.seek(0)
            err.seek(0)
            assert process.returncode == 0, err.read()
            outputs.append(out.read())
        return outputs


def _end(process: subprocess.Popen) -> None:
    """Kill ``process`` if it still runs (a test that failed or timed out)."""
    if process.poll() is None:
        process.kill()
        process.wait()


def side_by_side(runs: dict[str, tuple[str, list[str]]], trigger, timing: list[str] | None = None) -> dict[str, str]:
    """:func:`run_tools` of the named runs: ``{name: output}`` (for a module's fixture
    whose tests each check one run of the same events)."""
    return dict(zip(runs, run_tools(list(runs.values()), trigger, timing)))


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    """A program under a unique name (it becomes the comm of what it runs)."""
    path = tmp_path_factory.mktemp("marker") / "pybpfoutput_t"
    shutil.copy("/bin/sh", path)
    return path


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def execsnoop_runs(marker):
    """The execsnoop runs of the tests below, side by side while the marker runs."""
    import pwd

    user = pwd.getpwuid(os.getuid()).pw_name                            # -u takes a name, as BCC's
    return side_by_side({"plain": ("execsnoop", []), "json": ("execsnoop", ["--json", "-n", "^pybpfoutput"]),
                         "filtered": ("execsnoop", ["-U", "-M", "-C", "-P", str(os.getpid()), "-u", user]),
                         "other user": ("execsnoop", ["-P", str(os.getpid()), "-u", str(os.getuid() + 4242)])},
                        lambda: subprocess.run([marker, "-c", "true"], check=True))


def test_execsnoop(marker, execsnoop_runs):
    out = execsnoop_runs["plain"]
    assert out.splitlines()[0].split() == ["COMM", "PID", "PPID", "RET", "ARGS"]
    assert any(line.startswith("pybpfoutput_t") and line.endswith(f" 0 {marker} -c true") for line in out.splitlines())


def test_execsnoop_json(marker, execsnoop_runs):
    events = _json_lines(execsnoop_runs["json"])
    assert events and all(e["comm"] == "pybpfoutput_t" and e["path"] == str(marker) and e["ret"] == 0
                          and e["argv"] == [str(marker), "-c", "true"] and e["args"] == f"{marker} -c true" for e in events)
    assert all(e["ppid"] == os.getpid() for e in events)
    assert abs(events[0]["time"] - time.time()) < 300


def test_execsnoop_uid_parent_cpu_and_ppid_filter(execsnoop_runs):
    rows = [line.split() for line in execsnoop_runs["filtered"].splitlines()]
    assert rows[0] == ["UID", "COMM", "PID", "PCOMM", "PPID", "CPU", "RET", "ARGS"]
    me = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    ours = [row for row in rows[1:] if row[1] == "pybpfoutput_t"]
    assert ours and all(row[0] == str(os.getuid()) and row[3] == me and row[4] == str(os.getpid())
                        and 0 <= int(row[5]) < os.cpu_count() for row in ours)
    assert all(row[4] == str(os.getpid()) for row in rows[1:])          # -P: children of the test only
    assert execsnoop_runs["other user"].splitlines()[1:] == []


@pytest.fixture(scope="module")
def opensnoop_runs(tmp_path_factory):
    """The opensnoop runs of the tests below, side by side while the test creates a file,
    reads one and fails to open a missing one: ``(folder, {name: output})``."""
    folder = tmp_path_factory.mktemp("opensnoop")
    created, read, missing = folder / "pybpf-output-created", folder / "pybpf-output-read", folder / "pybpf-output-missing"
    read.write_text("x")

    def trigger():
        os.close(os.open(created, os.O_WRONLY | os.O_CREAT, 0o640))
        read.read_text()
        _try_open(missing)

    return folder, side_by_side({
        "flags": ("opensnoop", ["-e", "-f", "O_CREAT", "--tid", str(threading.get_native_id())]),
        "json": ("opensnoop", ["--json", "-p", str(os.getpid())]),
        "plain": ("opensnoop", ["-p", str(os.getpid())]),
        "failed json": ("opensnoop", ["--json", "-x", "-p", str(os.getpid())])}, trigger)


def test_opensnoop_flags_mode_and_flag_filter(opensnoop_runs):
    folder, runs = opensnoop_runs
    created, read = folder / "pybpf-output-created", folder / "pybpf-output-read"
    rows = [line.split() for line in runs["flags"].splitlines()]
    assert rows[0] == ["TID", "COMM", "FD", "ERR", "FLAGS", "MODE", "PATH"]
    assert any(row[-1] == str(created) for row in rows[1:]) and not any(row[-1] == str(read) for row in rows[1:])
    wanted = os.O_WRONLY | os.O_CREAT
    assert all(int(row[4], 8) & wanted == wanted and row[5] == "0640" for row in rows[1:] if row[-1] == str(created))
    events = _json_lines(runs["json"])
    opened = next(e for e in events if e["path"] == str(read))
    assert opened["flags"] & os.O_ACCMODE == os.O_RDONLY and opened["mode_octal"] == "n/a"


def test_opensnoop(opensnoop_runs):
    folder, runs = opensnoop_runs
    target, missing = folder / "pybpf-output-read", folder / "pybpf-output-missing"
    rows = [line.split() for line in runs["plain"].splitlines()[1:]]
    assert any(row[-1] == str(target) and int(row[2]) >= 3 and row[3] == "0" for row in rows)
    assert any(row[-1] == str(missing) and row[2] == "-1" and row[3] == "2" for row in rows)
    assert {row[0] for row in rows} == {str(os.getpid())}


def test_opensnoop_json_failed_only(opensnoop_runs):
    folder, runs = opensnoop_runs
    missing = folder / "pybpf-output-missing"
    events = _json_lines(runs["failed json"])
    assert any(e["path"] == str(missing) and e["errname"] == "ENOENT" for e in events)
    assert all(e["ret"] < 0 for e in events)


def _try_open(path):
    try:
        open(path).close()
    except FileNotFoundError:
        pass


def _exit_seven(marker):
    subprocess.run([marker, "-c", "exit 7"], check=False)


def test_exitsnoop(marker):
    out = run_tool("exitsnoop", ["-n", "pybpfoutput"], lambda: _exit_seven(marker))
    rows = [line.split() for line in out.splitlines()[1:]]
    assert rows and all(row[0] == "pybpfoutput_t" and row[-2:] == ["code", "7"] for row in rows)      # BCC's words


def test_exitsnoop_json_signal(marker):
    def trigger():
        child = subprocess.Popen([marker, "-c", "sleep 5"])
        child.send_signal(signal.SIGTERM)
        child.wait()

    events = _json_lines(run_tool("exitsnoop", ["--json", "-n", "pybpfoutput"], trigger))
    assert events and all(e["exit"] == "signal 15 (SIGTERM)" and e["ppid"] == os.getpid() for e in events)


def _kill_a_child():
    child = subprocess.Popen(["sleep", "5"])
    os.kill(child.pid, signal.SIGUSR1)
    child.wait()
    try:
        os.kill(2**22 + 7, 0)       # no such process
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def killsnoop_runs():
    """The killsnoop runs of the tests below, side by side while the test kills."""
    return side_by_side({"plain": ("killsnoop", ["-p", str(os.getpid())]),
                         "signals": ("killsnoop", ["-s", "USR1,15", "-p", str(os.getpid())]),
                         "target": ("killsnoop", ["--tpid", str(2**22 + 7)]),
                         "json": ("killsnoop", ["--json", "-x", "-p", str(os.getpid())])}, _kill_a_child)


def test_killsnoop(killsnoop_runs):
    out = killsnoop_runs["plain"]
    assert out.splitlines()[0].split() == ["TIME", "PID", "COMM", "SIG", "TPID", "RESULT"]      # BCC's
    rows = [line.split()[1:] for line in out.splitlines()[1:]]
    assert any(row[2] == str(int(signal.SIGUSR1)) and row[4] == "0" for row in rows)
    assert any(row[3] == str(2**22 + 7) and row[4] == "-3" for row in rows)


def test_killsnoop_signal_and_target_filters(killsnoop_runs):
    rows = [line.split()[1:] for line in killsnoop_runs["signals"].splitlines()[1:]]
    assert rows and all(row[2] == str(int(signal.SIGUSR1)) for row in rows)      # the signal 0 probes are left out
    rows = [line.split()[1:] for line in killsnoop_runs["target"].splitlines()[1:]]
    assert rows and all(row[3] == str(2**22 + 7) for row in rows)


def test_killsnoop_json(killsnoop_runs):
    events = _json_lines(killsnoop_runs["json"])
    assert events and all(e["tpid"] == 2**22 + 7 and e["ret"] == -3 and e["sig"] == 0 for e in events)


def _syscalls():
    for _ in range(50):
        os.getppid()


@pytest.fixture(scope="module")
def syscount_runs():
    """The syscount runs of the tests below, side by side while the test calls getppid
    and stats a missing file."""
    return side_by_side({"plain": ("syscount", ["-p", str(os.getpid())]),
                         "intervals": ("syscount", ["--json", "-i", "1", "-p", str(os.getpid())]),
                         "latency": ("syscount", ["-L", "--syscall", "getppid", "-t", str(threading.get_native_id())]),
                         "latency json": ("syscount", ["--json", "-L", "-p", str(os.getpid())]),
                         "errno": ("syscount", ["-e", "ENOENT", "-p", str(os.getpid())])}, _syscalls_and_a_missing_file)


def test_syscount(syscount_runs):
    out = syscount_runs["plain"]
    rows = dict(line.split() for line in out.splitlines() if line and line[0].islower())
    assert int(rows["getppid"]) >= 50


def test_syscount_json_intervals(syscount_runs):
    intervals = _json_lines(syscount_runs["intervals"])
    assert len(intervals) >= 3
    counts = [next((r["count"] for r in i["rows"] if r["syscall"] == "getppid"), 0) for i in intervals]
    assert max(counts) >= 50 and all(r["nr"] >= 0 for i in intervals for r in i["rows"])


def _syscalls_and_a_missing_file():
    _syscalls()
    try:
        os.stat("/nonexistent/pybpf-output-syscount")
    except FileNotFoundError:
        pass


def test_syscount_latency_of_one_syscall_of_one_thread(syscount_runs):
    lines = syscount_runs["latency"].splitlines()
    assert lines[0] == "Tracing syscall 'getppid'... Ctrl-C to end." and lines[2].split() == ["SYSCALL", "COUNT", "TIME", "(us)"]
    (row,) = [line.split() for line in lines[3:] if line.strip()]
    assert row[0] == "getppid" and int(row[1]) >= 50 and float(row[2]) > 0
    (interval,) = _json_lines(syscount_runs["latency json"])
    getppid = next(r for r in interval["rows"] if r["syscall"] == "getppid")
    assert getppid["count"] >= 50 and 0 < getppid["total_ns"] < getppid["count"] * 10**8


def test_syscount_errno_counts_only_that_failure(syscount_runs):
    rows = dict(line.split() for line in syscount_runs["errno"].splitlines() if line and line[0].islower())
    assert int(rows["newfstatat"]) >= 5 and "getppid" not in rows     # getppid never fails


def test_syscount_exec_counts_the_command_until_it_exits():
    """--exec: the command is held until the program is attached, so every call counts."""
    env = {**os.environ, "PYTHONPATH": SRC}
    ran = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "syscount", "--json", "--exec", sys.executable, "-c",
                          "import os\nfor _ in range(777): os.getppid()"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    (interval,) = _json_lines(ran.stdout)
    assert next(r["count"] for r in interval["rows"] if r["syscall"] == "getppid") == 777


def test_syscount_lists_names_and_refuses_unknown_ones():
    env = {**os.environ, "PYTHONPATH": SRC}
    listed = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "syscount", "-l"], capture_output=True,
                            text=True, env=env, check=True).stdout.split()
    assert {"getppid", "openat", "execve"} <= set(listed) and listed == sorted(listed, key=listed.index)
    for flags, message in ((["--syscall", "pybpf_nope"], "--syscall pybpf_nope: no such syscall"),
                           (["-e", "EPYBPF"], "'EPYBPF' is neither an errno number nor a name")):
        bad = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "syscount", "-d", "1", *flags],
                             capture_output=True, text=True, env=env)
        assert bad.returncode != 0 and message in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) makes the PID namespace")
def test_runqlat_per_pid_namespace():
    """--pidnss: a histogram for the namespace of a sleeper started in a PID namespace of its own."""
    child = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c",
                              "import time\nwhile True: time.sleep(0.001)"])
    try:
        deadline = time.monotonic() + 10
        while not (children := Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        theirs = os.stat(f"/proc/{children[0]}/ns/pid").st_ino
        out = run_tool("runqlat", ["--json", "--pidnss", "1"], lambda: None, timing=["-d", "3"])
    finally:
        child.kill()
        child.wait()
    namespaces = {h["pidns"] for i in _json_lines(out) for h in i["histograms"]}
    assert {theirs, os.stat("/proc/self/ns/pid").st_ino} <= namespaces


def test_cpudist_idle_tasks_only_with_include_idle_and_extension_sums():
    def groups(flags):
        intervals = _json_lines(run_tool("cpudist", ["--json", "-P", "-e", *flags], lambda: None, timing=["-d", "2"]))
        histograms = [h for i in intervals for h in i["histograms"]]
        for i in intervals:          # -e: the count is the histograms' total, the average total // count
            # (the two maps are read one after the other, as BCC reads them: a switch that
            # lands between the reads counts in one only)
            assert abs(i["count"] - sum(b["count"] for h in i["histograms"] for b in h["buckets"])) <= 3
            assert i["avg"] == i["total"] // i["count"]
        return {h["pid"] for h in histograms}

    assert 0 not in groups([])
    idle_before = _idle_jiffies()
    with_idle = groups(["-I"])
    if _idle_jiffies() - idle_before < 20:
        pytest.skip("the CPUs were hardly idle during the run (other work kept them busy): no idle task to see")
    assert 0 in with_idle


def _idle_jiffies() -> int:
    """The CPUs' idle time so far, in clock ticks (/proc/stat)."""
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[4])


@pytest.fixture
def busy_reader(tmp_path):
    """A process named pybpfprof_dd reading /dev/zero as fast as it can (kernel time)."""
    program = tmp_path / "pybpfprof_dd"
    shutil.copy(shutil.which("dd"), program)
    process = subprocess.Popen([program, "if=/dev/zero", "of=/dev/null", "bs=1M"], stderr=subprocess.DEVNULL)
    yield process
    process.kill()
    process.wait()


def test_profile_folded_and_svg(busy_reader, tmp_path):
    import xml.etree.ElementTree as ET

    graph = tmp_path / "flame.svg"
    out = run_tool("profile", ["-F", "99", "-f", "-p", str(busy_reader.pid), "--svg", str(graph)], lambda: None,
                   timing=["3"])
    stacks = [line.rsplit(" ", 1) for line in out.splitlines()]
    ours = [(frames.split(";"), int(count)) for frames, count in stacks if frames.startswith("pybpfprof_dd;")]
    assert sum(count for _, count in ours) >= 50          # ~99 Hz x 3 s on one busy CPU
    assert any("vfs_read" in frames and "read_zero" in frames for frames, _ in ours)
    titles = [t.text for t in ET.parse(graph).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert any(title.startswith("pybpfprof_dd (") for title in titles)


def test_profile_json(busy_reader):
    out = run_tool("profile", ["-F", "99", "--json", "-K", "-p", str(busy_reader.pid)], lambda: None, timing=["3"])
    stacks = _json_lines(out)
    assert stacks and all(s["pid"] == busy_reader.pid and s["comm"] == "pybpfprof_dd" for s in stacks)
    assert any("vfs_read" in s["stack"] for s in stacks)


def test_profile_thread_cpu_filters_and_delimiter(busy_reader):
    os.sched_setaffinity(busy_reader.pid, {0})
    other_cpu = 1 if (os.cpu_count() or 1) > 1 else None

    runs = {"delimited": ["-d", "-L", str(busy_reader.pid), "-C", "0"], "other thread": ["-L", str(busy_reader.pid + 100000)]}
    if other_cpu is not None:
        runs["other cpu"] = ["-C", str(other_cpu), "-p", str(busy_reader.pid)]
    outputs = run_tools([("profile", ["-F", "99", "-f", *flags]) for flags in runs.values()], lambda: None, timing=["2"])
    stacks = {what: [line.rsplit(" ", 1)[0].split(";") for line in out.splitlines() if line.startswith("pybpfprof_dd;")]
              for what, out in zip(runs, outputs)}
    delimited = stacks.pop("delimited")
    assert delimited and any("-" in frames and "read_zero" in frames[frames.index("-"):] for frames in delimited)
    assert stacks == {what: [] for what in stacks}


def test_profile_sample_period(busy_reader):
    """-c 20000000: a sample every 20 ms of CPU time — about 50 a second of the busy reader."""
    out = run_tool("profile", ["-c", "20000000", "-f", "-p", str(busy_reader.pid)], lambda: None, timing=["2"])
    samples = sum(int(line.rsplit(" ", 1)[1]) for line in out.splitlines() if line.startswith("pybpfprof_dd;"))
    assert 20 <= samples <= 130, out


def test_profile_annotations_and_hash_storage_size(busy_reader):
    out, one = run_tools([("profile", ["-F", "99", "-a", "-f", "-p", str(busy_reader.pid)]),
                          ("profile", ["-F", "99", "-f", "--hash-storage-size", "1"])], lambda: None, timing=["2"])
    stacks = [line.rsplit(" ", 1)[0].split(";") for line in out.splitlines() if line.startswith("pybpfprof_dd;")]
    assert any("read_zero_[k]" in frames for frames in stacks) and not any("read_zero" in frames for frames in stacks)
    assert len(one.splitlines()) == 1               # one distinct (process, stacks) fits, the rest is dropped


def test_every_tool_is_tested():
    """Every tool is named in a test function of some tests/tools/test_*.py file."""
    import re

    names = [name for path in Path(__file__).parent.glob("test_*.py")
             for name in re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE)]
    tested = {part for name in names for part in name.split("_")[1:]}
    assert set(NAMES) <= tested, set(NAMES) - tested


def test_list_and_unknown_tool():
    env = {**os.environ, "PYTHONPATH": SRC}
    listed = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "--list"], check=False, capture_output=True, text=True, env=env)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(NAMES)
    bad = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "nosuchtool"], check=False, capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.strip() == "pybpf tool: error: no tool called 'nosuchtool'; `pybpf tool --list` shows them"


def _sleeper_loop():
    """A child that sleeps 1 ms and wakes, many times (run queue entries, short runs)."""
    subprocess.run([sys.executable, "-c", "import time\nfor _ in range(100): time.sleep(0.001)"], check=True)


def _histogram_rows(out: str) -> dict[tuple[int, int], int]:
    rows = {}
    for line in out.splitlines():
        parts = line.replace("->", " ").replace(":", " ").split()
        if len(parts) >= 3 and parts[0].isdigit():
            rows[(int(parts[0]), int(parts[1]))] = int(parts[2])
    return rows


@pytest.fixture(scope="module")
def runqlat_cpudist_runs():
    """runqlat and cpudist side by side while a child sleeps and wakes."""
    return side_by_side({"runqlat": ("runqlat", []), "cpudist": ("cpudist", [])}, _sleeper_loop)


@pytest.mark.parametrize("tool", ["runqlat", "cpudist"])
def test_runqlat_cpudist(tool, runqlat_cpudist_runs):
    out = runqlat_cpudist_runs[tool]
    lines = out.splitlines()
    assert lines[1] == "" and lines[2].split() == ["usecs", ":", "count", "distribution"]      # BCC: a blank line first
    rows = _histogram_rows(out)
    assert sum(rows.values()) >= 100
    assert all(high == 1 or high == 2 * low - 1 for low, high in rows)


@pytest.fixture(scope="module")
def runqlat_cpudist_json_runs():
    """runqlat and cpudist --json of one child that sleeps and wakes, side by side:
    ``(child, {tool: output})``."""
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.001)"])
    try:
        return child, side_by_side({tool: (tool, ["--json", "-P", "-p", str(child.pid), "-m", "1"])
                                    for tool in ("runqlat", "cpudist")}, lambda: None)
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("tool", ["runqlat", "cpudist"])
def test_runqlat_cpudist_json(tool, runqlat_cpudist_json_runs):
    child, runs = runqlat_cpudist_json_runs
    intervals = _json_lines(runs[tool])
    assert len(intervals) >= 3 and all(i["unit"] == "msecs" for i in intervals)
    histograms = [h for i in intervals for h in i["histograms"]]
    assert histograms and {h["pid"] for h in histograms} == {child.pid}
    assert sum(b["count"] for h in histograms for b in h["buckets"]) >= 100


@pytest.fixture(scope="module")
def listener():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def connect_once():
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        client.close()
        accepted.close()

    yield server.getsockname()[1], connect_once
    server.close()


@pytest.fixture(scope="module")
def tcp_runs(listener):
    """The tcpconnect and tcpstates runs of the tests below, side by side while the test
    connects to the listener: ``(port, {name: output})``."""
    port, connect_once = listener
    return port, side_by_side({
        "tcpconnect": ("tcpconnect", ["-p", str(os.getpid())]),
        "tcpconnect json": ("tcpconnect", ["--json", "-p", str(os.getpid())]),
        "tcpconnect filtered": ("tcpconnect", ["-L", "-U", "-P", str(port), "-u", str(os.getuid())]),
        "tcpconnect other user": ("tcpconnect", ["-P", str(port), "-u", str(os.getuid() + 4242)]),
        "tcpconnect counts": ("tcpconnect", ["-c", "-P", str(port)]),
        "tcpconnect counts json": ("tcpconnect", ["--json", "-c", "-P", str(port)]),
        "tcpstates": ("tcpstates", []),
        "tcpstates json": ("tcpstates", ["--json"]),
        "tcpstates csv": ("tcpstates", ["-s", "-D", str(port)]),
        "tcpstates wide": ("tcpstates", ["-w", "-L", str(port)]),
        "tcpstates ipv6": ("tcpstates", ["-6", "-L", str(port)])}, connect_once)


def test_tcpconnect(tcp_runs):
    port, runs = tcp_runs
    rows = [line.split() for line in runs["tcpconnect"].splitlines()]
    assert rows[0] == ["PID", "COMM", "IP", "SADDR", "DADDR", "DPORT"]
    assert len(rows) > 1 and all(row[0] == str(os.getpid()) and row[2:] == ["4", "127.0.0.1", "127.0.0.1", str(port)]
                                 for row in rows[1:])


def test_tcpconnect_json(tcp_runs):
    port, runs = tcp_runs
    events = _json_lines(runs["tcpconnect json"])
    assert events and all(e["dport"] == port and e["new"] == "SYN_SENT" and e["ip"] == 4 for e in events)


def test_tcpstates(tcp_runs):
    port, runs = tcp_runs
    ours = [line for line in runs["tcpstates"].splitlines() if f" {port} " in line]
    for transition in ("CLOSE -> SYN_SENT", "SYN_SENT -> ESTABLISHED", "LISTEN -> SYN_RECV", "ESTABLISHED -> FIN_WAIT1"):
        assert any(transition in line for line in ours), transition


def test_tcpstates_json(tcp_runs):
    port, runs = tcp_runs
    events = [e for e in _json_lines(runs["tcpstates json"]) if port in (e["sport"], e["dport"])]
    by_socket: dict[int, list[str]] = {}
    for e in events:
        by_socket.setdefault(e["skaddr"], []).append(e["new"])
    # a client socket goes through SYN_SENT, ESTABLISHED, ... to CLOSE, in order
    assert any(states[:2] == ["SYN_SENT", "ESTABLISHED"] and states[-1] == "CLOSE" for states in by_socket.values())
    assert all(float(e["ms"]) >= 0 for e in events)


def test_tcpconnect_local_port_uid_and_port_filter(tcp_runs):
    port, runs = tcp_runs
    rows = [line.split() for line in runs["tcpconnect filtered"].splitlines()]
    assert rows[0] == ["UID", "PID", "COMM", "IP", "SADDR", "LPORT", "DADDR", "DPORT"]
    # the local port is the connecting socket's own (known once it leaves SYN_SENT), never 0
    assert len(rows) > 1 and all(row[0] == str(os.getuid()) and row[6:] == ["127.0.0.1", str(port)]
                                 and 1024 <= int(row[5]) < 65536 for row in rows[1:])
    assert runs["tcpconnect other user"].splitlines()[1:] == []


def test_tcpconnect_counts(tcp_runs):
    port, runs = tcp_runs
    lines = runs["tcpconnect counts"].splitlines()
    assert lines[0] == "Tracing connect ... Hit Ctrl-C to end" and lines[2].split() == ["LADDR", "RADDR", "RPORT", "CONNECTS"]
    (row,) = [line.split() for line in lines[3:]]
    assert row[:3] == ["127.0.0.1", "127.0.0.1", str(port)] and int(row[3]) >= 5
    (counted,) = _json_lines(runs["tcpconnect counts json"])
    assert counted["dport"] == port and counted["connects"] >= 5


def test_tcpstates_csv_wide_and_port_filters(tcp_runs):
    port, runs = tcp_runs
    lines = runs["tcpstates csv"].splitlines()
    assert lines[0] == "SKADDR,C-PID,C-COMM,IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS"
    rows = [line.split(",") for line in lines[1:]]
    assert rows and all(row[7] == str(port) and row[3] == "4" for row in rows)      # -D: the remote port only
    assert {("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")} <= {(row[8], row[9]) for row in rows}
    wide = runs["tcpstates wide"].splitlines()
    assert wide[0].split()[:5] == ["SKADDR", "C-PID", "C-COMM", "IP", "LADDR"]
    assert len(wide) > 1 and all(line.split()[5] == str(port) for line in wide[1:])   # -L: the listener's side
    assert any("LISTEN -> SYN_RECV" in line for line in wide[1:])
    assert runs["tcpstates ipv6"].splitlines()[1:] == []


@pytest.fixture(scope="module")
def statsnoop_runs(tmp_path_factory):
    """The statsnoop runs of the tests below, side by side while the test stats a file
    that is there and one that is not: ``(present, missing, {name: output})``."""
    folder = tmp_path_factory.mktemp("statsnoop")
    present, missing = folder / "pybpf-output-here", folder / "pybpf-output-gone"
    present.write_text("")

    def trigger():
        os.stat(present)
        os.path.exists(missing)

    return present, missing, side_by_side({"plain": ("statsnoop", ["-p", str(os.getpid())]),
                                           "names": ("statsnoop", ["-s", "-p", str(os.getpid())]),
                                           "json": ("statsnoop", ["--json", "-x", "-p", str(os.getpid())])}, trigger)


def test_statsnoop(statsnoop_runs):
    present, missing, runs = statsnoop_runs
    rows = [line.split() for line in runs["plain"].splitlines()]
    assert rows[0] == ["PID", "COMM", "FD", "ERR", "PATH"]                 # BCC's: FD -1 on failure
    assert any(row[2:] == ["0", "0", str(present)] for row in rows)
    assert any(row[2:] == ["-1", "2", str(missing)] for row in rows)


def test_statsnoop_syscall_names(statsnoop_runs):
    present, _, runs = statsnoop_runs
    rows = [line.split() for line in runs["names"].splitlines()]
    assert rows[0] == ["PID", "COMM", "FD", "ERR", "SYSCALL", "PATH"]
    assert any(row[4] in ("newfstatat", "statx", "newstat") and row[5] == str(present) for row in rows[1:])


def test_statsnoop_json(statsnoop_runs):
    _, missing, runs = statsnoop_runs
    events = _json_lines(runs["json"])
    ours = [e for e in events if e["path"] == str(missing)]
    assert ours and all(e["errname"] == "ENOENT" and e["syscall"] in ("newfstatat", "statx", "newstat") for e in ours)


def _start_threads():
    import threading

    threads = [threading.Thread(target=lambda: None) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


#: a C program whose threads start in a function of a name of its own, then stays a moment
#: (the tool names the routine through the process's maps, as BCC does, while it lives)
THREADER = r"""
#include <pthread.h>
#include <unistd.h>
__attribute__((noinline)) void *pybpf_threadsnoop_worker(void *arg) { return arg; }
int main(void) {
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, pybpf_threadsnoop_worker, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    usleep(500000);
    return 0;
}
"""


@pytest.fixture
def threader(tmp_path):
    """A function that starts the program (named pybpf_threader); the processes are
    reaped at the end."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc builds the program that makes threads")
    (tmp_path / "threader.c").write_text(THREADER)
    program = tmp_path / "pybpf_threader"
    subprocess.run(["gcc", "-O1", "-pthread", "-o", str(program), str(tmp_path / "threader.c")], check=True)
    started: list[subprocess.Popen] = []
    yield lambda: started.append(subprocess.Popen([str(program)]))
    for process in started:
        process.wait()


def test_threadsnoop(threader):
    """BCC's columns: TIME(ms) since the first event, PID, COMM, and FUNC, the start
    routine pthread_create was given, named."""
    rows = [line.split() for line in run_tool("threadsnoop", ["-n", "pybpf_threader"], threader).splitlines()]
    assert rows[0] == ["TIME(ms)", "PID", "COMM", "FUNC"]
    assert len(rows) >= 5 and all(row[2] == "pybpf_threader" and row[3] == "pybpf_threadsnoop_worker"
                                  for row in rows[1:])
    times = [int(row[0]) for row in rows[1:]]
    assert times[0] == 0 and times == sorted(times) and times[-1] > 0
    assert all(sum(row[1] == pid for row in rows[1:]) == 2 for pid in {row[1] for row in rows[1:]})   # two each


def test_threadsnoop_json():
    """-p: the libc this process maps; Python's threads start in its wrapper, named."""
    events = _json_lines(run_tool("threadsnoop", ["--json", "-p", str(os.getpid())], _start_threads))
    assert len(events) >= 3 and all(e["pid"] == os.getpid() for e in events)
    assert all(e["start"] > 0 and e["func"] != hex(e["start"]) for e in events)
    assert len({e["func"] for e in events}) == 1 and {"ts", "time", "comm"} <= set(events[0])


def _mount_cycle(target: Path):
    """mount("pybpf-output", target, "tmpfs") and umount(target) through libc, then a
    mount that fails (ENOENT: no such target)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.mount(b"pybpf-output", str(target).encode(), b"tmpfs", 0, None) == 0, os.strerror(ctypes.get_errno())
    assert libc.umount2(str(target).encode(), 0) == 0
    libc.mount(b"pybpf-output", str(target / "missing").encode(), b"tmpfs", 0, None)


@pytest.fixture(scope="module")
def mountsnoop_runs(tmp_path_factory):
    """The mountsnoop runs of the tests below, side by side while the test mounts:
    ``(target, {name: output})``."""
    target = tmp_path_factory.mktemp("mountsnoop")
    return target, side_by_side({"plain": ("mountsnoop", ["-p", str(os.getpid())]),
                                 "parent": ("mountsnoop", ["-P", "-p", str(os.getpid())]),
                                 "json": ("mountsnoop", ["--json", "-x", "-p", str(os.getpid())])},
                                lambda: _mount_cycle(target))


def test_mountsnoop(mountsnoop_runs):
    target, runs = mountsnoop_runs
    rows = runs["plain"].splitlines()
    assert rows[0].split() == ["COMM", "PID", "TID", "MNT_NS", "CALL"]
    assert any(row.endswith(f'mount("pybpf-output", "{target}", "tmpfs", 0x0, "") = 0') for row in rows)
    assert any(row.endswith(f'umount("{target}", 0x0) = 0') for row in rows)
    assert any(row.endswith(f'mount("pybpf-output", "{target}/missing", "tmpfs", 0x0, "") = -ENOENT') for row in rows)


def test_mountsnoop_parent_process(mountsnoop_runs):
    rows = [line.split(None, 6) for line in mountsnoop_runs[1]["parent"].splitlines()]
    assert rows[0] == ["COMM", "PID", "TID", "PCOMM", "PPID", "MNT_NS", "CALL"]
    parent = Path(f"/proc/{os.getppid()}/comm").read_text().strip()
    assert len(rows) > 1 and all(row[3] == parent and row[4] == str(os.getppid()) for row in rows[1:])


def test_mountsnoop_json(mountsnoop_runs):
    target, runs = mountsnoop_runs
    events = _json_lines(runs["json"])
    assert events and all(e["target"] == f"{target}/missing" and e["ret"] == -2 and e["fstype"] == "tmpfs"
                          for e in events)
    assert events[0]["mnt_ns"] == os.stat(f"/proc/{os.getpid()}/ns/mnt").st_ino


def test_uid_flag_takes_a_user_name_or_id():
    import argparse
    import pwd

    from pybpf.tools.tool import user_id

    assert user_id("0") == 0
    assert user_id(pwd.getpwuid(0).pw_name) == 0
    with pytest.raises(argparse.ArgumentTypeError, match="no user named 'pybpf-no-such-user'"):
        user_id("pybpf-no-such-user")
