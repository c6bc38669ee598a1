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
    ``terminal``, else from a file). :data:`AT_ONCE` run at a time: the next starts as
    soon as one ends."""
    results: dict[str, tuple[int, str, str]] = {}
    waiting, running = list(names), []
    try:
        while waiting or running:
            while waiting and len(running) < AT_ONCE:
                running.append(_Run(waiting.pop(0), pid, terminal))
            for run in running:
                run.drain()
            for run in [run for run in running if run.process.poll() is not None or time.monotonic() > run.deadline]:
                running.remove(run)
                results[run.name] = run.finish()
            time.sleep(0.05)
    finally:
        for run in running:
            run.finish()
    return results


class _Run:
    """One tool started: its output goes to files, its stderr to a pty of its own if
    ``terminal``."""

    def __init__(self, name: str, pid: int, terminal: bool) -> None:
        self.name, self.terminal, self.deadline = name, terminal, time.monotonic() + 180
        self.out, self.err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.master, slave = pty.openpty() if terminal else (-1, -1)
        self.seen = bytearray()
        self.process = subprocess.Popen(_command(name, pid), stdout=self.out, stderr=slave if terminal else self.err,
                                        stdin=subprocess.DEVNULL, text=True, env=PYTHON_ENV)
        if terminal:
            os.close(slave)

    def drain(self) -> None:
        if self.master >= 0:
            self.seen += read_available(self.master)

    def finish(self) -> tuple[int, str, str]:
        """The exit status, stdout and stderr (what the pty showed); killed if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.drain()
        if self.master >= 0:
            os.close(self.master)
        self.out.seek(0)
        self.err.seek(0)
        result = (self.process.returncode, self.out.read(), self.seen.decode() if self.terminal else self.err.read())
        self.out.close()
        self.err.close()
        return result


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
