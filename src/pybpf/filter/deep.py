"""Running the compiler on deeply nested expressions.

The parser is recursive descent, so each level of parentheses costs a few Python frames
(up to nine inside arithmetic). Chains of ``and``/``or`` and runs of ``not`` are loops in
the parser and the code generator, and the optimizer and the layout walk the graph with
explicit stacks, so only nesting needs depth. Rather than rewrite the grammar as an
explicit-stack machine, an expression nested deeper than Python's default limit allows
is compiled on a worker thread with a large stack (256 MiB, for the interpreter's C
frames) and a recursion limit sized to the nesting (the parser caps nesting at
:data:`pybpf.filter.parser.MAX_NESTING`, as libpcap's parser has its own cap). The
limit is process-wide in CPython, so it is raised while any such compile runs and put
back when the last one ends; ordinary expressions run on the calling thread untouched.
"""

from __future__ import annotations

import _thread
import sys

#: parentheses (or ``not``s before a parenthesis) below which the caller's stack is enough
SHALLOW = 60
_STACK_BYTES = 256 << 20
_FRAMES_PER_LEVEL = 16

_lock = _thread.allocate_lock()   # threading.Lock (threading, with functools and collections: ~1 ms of every compile)
_active = 0
_saved_limit = 0


def nesting_estimate(expression: str) -> int:
    """An upper bound of the expression's nesting: its opening parentheses."""
    return expression.count("(")


def run(function, expression: str, *args, **kwargs):
    """``function(expression, *args, **kwargs)``, on a big-stack thread when the
    expression is deeply nested; its exception (a FilterError) is re-raised here."""
    depth = nesting_estimate(expression)
    if depth < SHALLOW:
        return function(expression, *args, **kwargs)
    import threading

    outcome: dict[str, object] = {}

    def work():
        try:
            outcome["value"] = function(expression, *args, **kwargs)
        except BaseException as error:       # handed to the calling thread
            outcome["error"] = error

    _raise_limit(1000 + depth * _FRAMES_PER_LEVEL)
    try:
        with _lock:
            previous = threading.stack_size(_STACK_BYTES)
            try:
                worker = threading.Thread(target=work, name="pybpf-filter-deep")
                worker.start()
            finally:
                threading.stack_size(previous)
        worker.join()
    finally:
        _restore_limit()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _raise_limit(frames: int) -> None:
    global _active, _saved_limit
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
        _active += 1
        if sys.getrecursionlimit() < frames:
            sys.setrecursionlimit(frames)


def _restore_limit() -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            sys.setrecursionlimit(_saved_limit)
