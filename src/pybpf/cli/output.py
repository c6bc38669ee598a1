"""Writing command output so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pybpf._files import new_file_mode, new_private_file

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
    fd, tmp = new_private_file(os.path.dirname(os.path.abspath(path)), ".pybpf-")
    os.fchmod(fd, new_file_mode(path))
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise

