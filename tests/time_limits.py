"""A time limit for a block of a test (importable by name, like shared_data.py): hostile
inputs must fail fast, and a hang must fail the test rather than the whole run."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def time_limit(seconds: float, what: str = "the block") -> Iterator[None]:
    """Raise TimeoutError in the block when it runs longer than ``seconds`` (SIGALRM: main thread only)."""
    def expired(*_: object) -> None:
        raise TimeoutError(f"{what} took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
