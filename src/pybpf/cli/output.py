"""Writing command output so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import os
import sys

from pybpf._files import new_file_mode, new_private_file

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from types import TracebackType
    from typing import BinaryIO


def reader_gone() -> int:
    """After a BrokenPipeError on stdout (``pybpf ... | head``): stop quietly, as tcpdump
    does — stdout pointed at /dev/null so that the interpreter's last flush cannot fail
    again — and exit 0."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def atomic_output(path: str | None) -> _AtomicOutput:
    """A binary stream for ``path`` ("-" or None: stdout) that appears only when complete.

    The data goes to a temporary file in the same directory, renamed over ``path`` when
    the ``with`` block ends without an exception; on an exception it is removed.
    """
    return _AtomicOutput(path)


class _AtomicOutput:
    """:func:`atomic_output`'s context manager (a class rather than a
    ``contextlib.contextmanager`` generator: every command that can write a file imports
    this module to register its parser, and contextlib is ~1 ms of a ``COMMAND --help``)."""

    def __init__(self, path: str | None):
        self.path = path
        self.stream: BinaryIO | None = None
        self.temporary = ""

    def __enter__(self) -> BinaryIO:
        if self.path in (None, "-"):
            return sys.stdout.buffer
        assert self.path is not None
        fd, self.temporary = new_private_file(os.path.dirname(os.path.abspath(self.path)), ".pybpf-")
        os.fchmod(fd, new_file_mode(self.path))
        self.stream = os.fdopen(fd, "wb")
        return self.stream

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.stream is None:         # stdout
            if kind is None:
                sys.stdout.buffer.flush()
            return
        try:
            self.stream.close()
            if kind is None:
                assert self.path is not None
                os.replace(self.temporary, self.path)
                return
        except BaseException:
            os.unlink(self.temporary)
            raise
        os.unlink(self.temporary)
