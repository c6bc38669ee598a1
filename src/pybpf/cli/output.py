"""Writing command output so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pybpf._files import new_file_mode

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import BinaryIO


@contextmanager
def atomic_output(path: str | None) -> Iterator[BinaryIO]:
    """A binary stream for ``path`` ("-" or None: stdout) that appears only when complete.

    The data goes to a temporary file in the same directory, renamed over ``path`` when
    the ``with`` block ends without an exception; on an exception it is removed.
    """
    if path in (None, "-"):
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    fd, tmp = _private_file(os.path.dirname(os.path.abspath(path)))
    os.fchmod(fd, new_file_mode(path))
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _private_file(directory: str) -> tuple[int, str]:
    """A new file (0600) with an unused name in ``directory``, open for writing, as
    ``tempfile.mkstemp`` makes one — without importing tempfile (with shutil, random and
    the compression modules: ~3 ms of a command's start)."""
    while True:
        name = os.path.join(directory, f".pybpf-{os.urandom(6).hex()}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), name
        except FileExistsError:
            continue
