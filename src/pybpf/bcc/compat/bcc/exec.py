"""bcc.exec: start a command that waits until the probes are attached (syscount -c)."""

from __future__ import annotations

import os
import signal
import sys

_state = {"exited": 0}
_ready_r, _ready_w = os.pipe()


def _reap(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    _state["exited"] = 1


def run_cmd(args: list[str]) -> int:
    """Fork ``args``; the child execs once :func:`cmd_ready` is called."""
    pid = os.fork()
    if pid == 0:
        os.close(_ready_w)
        os.read(_ready_r, 1)
        try:
            os.execvp(args[0], args)
        except OSError as exc:
            print(f"failed to exec command: {' '.join(args)}: {exc}", file=sys.stderr)
            os._exit(1)
    signal.signal(signal.SIGCHLD, _reap)
    return pid


def cmd_ready() -> None:
    os.close(_ready_r)
    os.write(_ready_w, b"x")
    os.close(_ready_w)


def cmd_exited() -> int:
    return _state["exited"]
