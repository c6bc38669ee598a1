"""pybpf.termination: SIGTERM raises KeyboardInterrupt inside, the previous handler comes
back outside, threads other than the main one are left alone, and run_interruptible ends
an unhandled interrupt with status 130 after the cleanups ran."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from pybpf.termination import INTERRUPTED, run_interruptible, sigterm_as_sigint


def test_sigterm_unwinds_as_an_interrupt_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(KeyboardInterrupt), sigterm_as_sigint():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()        # not reached: the handler raised at once
        finally:
            cleaned.append(True)
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) is before


def test_run_interruptible_returns_130_after_cleanups():
    cleaned = []

    def main() -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()
        finally:
            cleaned.append(True)
        return 0

    assert run_interruptible(main) == INTERRUPTED == 130 and cleaned == [True]
    assert run_interruptible(lambda: 7) == 7


def test_other_threads_leave_signals_alone():
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def worker() -> None:
        with sigterm_as_sigint():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before]
