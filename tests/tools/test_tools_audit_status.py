"""Issue 17's "long runs show what they are doing (a status line on a terminal; nothing
extra when piped)", for every tool of ``pybpf tool --list``: the tools that print only
every interval or at the end write ``Tracing... N s, ..., Ctrl-C to end`` to a terminal
on stderr (a pty here), cleared before they print, and never into stdout; piped, no tool
writes anything to stderr nor any escape or carriage return to stdout. The tools that
print each event as it comes show those events instead of a line (a line would land
between the event lines on the same terminal). The runs go a few at a time, side by side."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import tempfile
import time

import pytest
from toolsnet_helpers import PYTHON_ENV, read_available

from pybpf.tools import NAMES
from python_script import MARKS, python_script

pytestmark = MARKS

SECONDS = "1.5"

#: each tool's arguments for a short run ("PID": the traced Python script's pid)
ARGUMENTS: dict[str, list[str]] = {
    "argdist": ["--duration", SECONDS, "-C", "t:syscalls:sys_enter_getppid()"],
    "funccount": ["--duration", SECONDS, "t:syscalls:sys_enter_getppid"],
    "funclatency": ["--duration", SECONDS, "c:getaddrinfo"],
    "stackcount": ["--duration", SECONDS, "t:syscalls:sys_enter_getppid"],
    "trace": ["--duration", SECONDS, "t:syscalls:sys_enter_getppid"],
    "offcputime": ["-p", "PID", SECONDS],
    "profile": ["-p", "PID", SECONDS],
    "pythoncalls": ["--duration", SECONDS, "PID"],
    "pythonflow": ["--duration", SECONDS, "PID"],
    "memleak": ["--duration", SECONDS, "-p", "PID"],
    "tcpconnect": ["--duration", SECONDS, "-c"],        # -c: counts printed at the end
    "tcpretrans": ["--duration", SECONDS, "-c"],
}

#: the tools that print only every interval or at the end: they keep a status line
SUMMARY_TOOLS = ["argdist", "biolatency", "bitesize", "cpudist", "funccount", "funclatency", "hardirqs", "memleak",
                 "offcputime", "profile", "pythoncalls", "runqlat", "runqlen", "softirqs", "stackcount", "syscount",
                 "tcpconnect", "tcpretrans"]

#: the status line's text (not a banner such as "Tracing syscalls... Ctrl-C to end.")
STATUS_TEXT = re.compile(r"Tracing\.\.\. \d+ s, ")

#: how many tools run side by side (each compiles and loads before it traces)
AT_ONCE = 6


def _command(name: str, pid: int) -> list[str]:
    arguments = ARGUMENTS.get(name, ["--duration", SECONDS])
    return [sys.executable, "-m", "pybpf.cli", "tool", name, *(str(pid) if a == "PID" else a for a in arguments)]


def _run(names: list[str], pid: int, *, terminal: bool) -> dict[str, tuple[int, str, str]]:
    """Each tool's exit status, stdout and stderr (read from a pty of its own if
    ``terminal``, else from a file)."""
    results: dict[str, tuple[int, str, str]] = {}
    for start in range(0, len(names), AT_ONCE):
        running = []
        for name in names[start:start + AT_ONCE]:
            out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
            master, slave = pty.openpty() if terminal else (-1, -1)
            process = subprocess.Popen(_command(name, pid), stdout=out, stderr=slave if terminal else err,
                                       stdin=subprocess.DEVNULL, text=True, env=PYTHON_ENV)
            if terminal:
                os.close(slave)
            running.append((name, process, out, err, master, bytearray()))
        deadline = time.monotonic() + 180
        while any(p.poll() is None for _, p, *_ in running) and time.monotonic() < deadline:
            for *_, master, seen in running:
                if master >= 0:
                    seen += read_available(master)
            time.sleep(0.05)
        for name, process, out, err, master, seen in running:
            if process.poll() is None:
                process.kill()
            process.wait()
            if master >= 0:
                seen += read_available(master)
                os.close(master)
            out.seek(0)
            err.seek(0)
            results[name] = (process.returncode, out.read(), seen.decode() if terminal else err.read())
            out.close()
            err.close()
    return results


@pytest.fixture(scope="module")
def pid(tmp_path_factory):
    """A Python process (with USDT probes) for the tools that trace one."""
    with python_script(tmp_path_factory.mktemp("audit") / "pybpf_toolsaudit_script.py", "pybpf_toolsaudit_called",
                       0.02) as (process, _):
        yield process.pid


def test_every_tool_is_covered():
    assert set(SUMMARY_TOOLS) <= set(NAMES) and set(ARGUMENTS) <= set(NAMES)


def test_summary_tools_keep_a_status_line_on_a_terminal(pid):
    results = _run(SUMMARY_TOOLS, pid, terminal=True)
    for name, (status, out, terminal) in results.items():
        assert status == 0, (name, terminal)
        assert terminal.startswith("\rTracing... ") and "Ctrl-C to end\x1b[K" in terminal, (name, terminal)
        assert terminal.endswith("\r\x1b[K"), (name, terminal)          # cleared before the report
        assert not STATUS_TEXT.search(out) and "\x1b" not in out, (name, out)
        assert out.strip(), name            # the banner or report went to stdout
    # a count of what was seen, where the tool has one
    # profile's header, as BCC's, though a sleeping process gives it no samples
    assert results["profile"][1].startswith(f"Sampling at 49 Hertz of PID [{pid}] by user + kernel stack for 1 secs.\n\n")
    assert "syscalls, Ctrl-C" in results["syscount"][2] and "samples, Ctrl-C" in results["profile"][2]
    assert " events, Ctrl-C" in results["funccount"][2] and " calls, Ctrl-C" in results["funclatency"][2]
    assert " connects, Ctrl-C" in results["tcpconnect"][2] and " retransmits, Ctrl-C" in results["tcpretrans"][2]


def test_piped_no_tool_writes_anything_extra(pid):
    results = _run(sorted(NAMES), pid, terminal=False)
    assert set(results) == set(NAMES)
    for name, (status, out, err) in results.items():
        assert status == 0 and err == "", (name, err)
        assert "\x1b" not in out and "\r" not in out and not STATUS_TEXT.search(out), (name, out)


def test_a_reader_that_stops_early_ends_the_tool_quietly(tmp_path):
    """``pybpf tool execsnoop | head -1``: once the reader has gone, the next row ends the
    tool with status 0 and nothing on stderr (no "Broken pipe" error, no traceback)."""
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "tool", "execsnoop", "-d", "30"],
                                   stdout=subprocess.PIPE, stderr=err, text=True, env=PYTHON_ENV)
        try:
            assert process.stdout.readline().split()[:2] == ["COMM", "PID"]
            process.stdout.close()                   # the reader goes away
            deadline = time.monotonic() + 20
            while process.poll() is None and time.monotonic() < deadline:
                subprocess.run(["/bin/true"], check=True)
                time.sleep(0.1)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        err.seek(0)
        assert err.read() == ""
