"""SIGTERM handled as SIGINT, one way for every entry point that makes kernel or system
objects — pybpf's commands, ``python -m pybpf.bcc``, the examples, the tools and the test
session. ``kill`` or a service manager's stop then unwinds the stack as Ctrl-C does, so the
``with`` and ``finally`` blocks that detach programs and remove pins, network namespaces
and cgroups run; the default SIGTERM would end the process with none of them.

Library code never installs handlers: only programs' entry points call this.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (~2 ms of every command)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import TypeVar

    T = TypeVar("T")

#: the exit status a shell reports for a program ended by SIGINT (128 + 2)
INTERRUPTED = 130


@contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does;
    the previous handler is given back on leaving. Outside the main thread (where Python
    cannot set handlers) it changes nothing."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_interruptible(main: Callable[[], T]) -> T | int:
    """Run a program's ``main`` with SIGTERM as SIGINT; an interrupt ``main`` does not
    handle itself ends it quietly with status 130 (after its cleanups ran)."""
    with sigterm_as_sigint():
        try:
            return main()
        except KeyboardInterrupt:
            return INTERRUPTED
