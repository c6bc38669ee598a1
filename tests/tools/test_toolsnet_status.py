"""The status line of interval tools: on a terminal (a pty here) stderr shows
``Tracing... N s, M events, Ctrl-C to end`` rewritten in place and cleared before output;
through a pipe nothing extra is written."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import pytest
from toolsnet_helpers import PYTHON_ENV, read_available

from pybpf.tools.status import StatusLine, intervals


def test_on_a_terminal_the_line_is_written_rewritten_and_cleared():
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as stream:
            seen = iter(range(1000, 100000, 2345))
            status = StatusLine(lambda: next(seen), stream=stream)
            status.update(force=True)
            status.update()                       # within the second: not rewritten
            status.update(force=True)
            status.clear()
            status.clear()                        # nothing left to clear
        written = read_available(master, wait=0.2).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert written == ("\rTracing... 0 s, 1,000 events, Ctrl-C to end\x1b[K"
                       "\rTracing... 0 s, 3,345 events, Ctrl-C to end\x1b[K\r\x1b[K")


def test_through_a_pipe_nothing_is_written():
    read, write = os.pipe()
    try:
        with os.fdopen(write, "w", closefd=False) as stream:
            status = StatusLine(lambda: 5, stream=stream)
            status.update(force=True)
            status.clear()
        os.close(write)
        assert os.read(read, 100) == b""
    finally:
        os.close(read)


def test_intervals_yield_each_interval_and_stop_after_count():
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        status = StatusLine(stream=stream)
        start = time.monotonic()
        assert list(intervals(status, duration=5, interval=0.3, count=3)) == [True, True, True]
        assert 0.8 < time.monotonic() - start < 3
        assert list(intervals(status, duration=0.3)) == [False]            # one report at the end
        assert list(intervals(status, duration=0.5, interval=0.2)) == [True, True, False]
    os.close(read)


@pytest.mark.skipif(os.geteuid() != 0, reason="syscount loads a BPF program: root only")
def test_syscount_shows_its_line_on_a_terminal_only():
    master, slave = pty.openpty()
    try:
        result = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "tool", "syscount", "-d", "3.5", "-T", "3"],
                                  stdout=subprocess.PIPE, stderr=slave, env=PYTHON_ENV, text=True)
        out, _ = result.communicate(timeout=120)
        terminal = read_available(master, wait=0.2).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 0
    assert "\rTracing... " in terminal and "syscalls, Ctrl-C to end" in terminal
    assert terminal.endswith("\r\x1b[K")                      # cleared before the counts print
    assert "Tracing..." not in out and "\x1b" not in out and "SYSCALL" in out

    piped = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "syscount", "-d", "2", "-T", "3"],
                           capture_output=True, env=PYTHON_ENV, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == "" and "SYSCALL" in piped.stdout
