"""SIGTERM handled as SIGINT, one way for every entry point that makes kernel or system
objects — pybpf's commands, ``python -m pybpf.bcc``, the examples, the tools and the test
session. ``kill`` or a service manager's stop then unwinds the stack as Ctrl-C does, so the
``with`` and ``finally`` blocks that detach programs and remove pins, network namespaces
and cgroups run; the default SIGTERM would end the process with none of them.

Library code never installs handlers: only programs' entry points call this.
"""

from __future__ import annotations

# _signal is the C module under signal: signal's wrappers only turn numbers into enums,
# and importing signal (with enum, functools and collections) was ~3 ms of every command.
import _signal

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

#: the exit status a shell reports for a program ended by SIGINT (128 + 2)
INTERRUPTED = 130


class sigterm_as_sigint:  # noqa: N801 (used as a function: ``with sigterm_as_sigint():``)
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does;
    the previous handler is given back on leaving. Outside the main thread (where Python
    cannot set handlers) it changes nothing."""

    def __enter__(self) -> None:
        try:
            self.previous = _signal.signal(_signal.SIGTERM, _signal.default_int_handler)
        except ValueError:
            self.previous = None

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            _signal.signal(_signal.SIGTERM, self.previous)


def run_interruptible(main: Callable[[], T]) -> T | int:
    """Run a program's ``main`` with SIGTERM as SIGINT; an interrupt ``main`` does not
    handle itself ends it quietly with status 130 (after its cleanups ran)."""
    with sigterm_as_sigint():
        try:
            return main()
        except KeyboardInterrupt:
            return INTERRUPTED
