"""``functools.cache`` for functions of no arguments, without importing functools.

functools imports collections (and with it keyword, operator, reprlib): a few
milliseconds of a command such as ``pybpf filter -r FILE -w OUT`` whose whole start-up
is tens, for the handful of answers found once per process on its path (the native
walker loaded, the zig binary, llvmlite's identity, the JIT's source digest).
"""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


def once(function: Callable[[], T]) -> Callable[[], T]:
    """``function`` called the first time, its answer (or ``None``) kept for later calls.
    As with ``functools.cache``, two threads calling at once may both compute it."""
    answers: list[T] = []

    def cached() -> T:
        if not answers:
            answers.append(function())
        return answers[0]

    cached.__name__, cached.__qualname__ = function.__name__, function.__qualname__
    cached.__doc__, cached.__module__ = function.__doc__, function.__module__
    cached.__wrapped__ = function       # type: ignore[attr-defined]
    return cached
