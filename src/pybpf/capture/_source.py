"""A byte source that knows its offset, so every reader error can say where it happened
even when reading a pipe (where ``tell()`` is not available)."""

from __future__ import annotations

import os
import stat

from pybpf.capture.packet import CaptureError

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing (start-up: see pybpf.cli)
if TYPE_CHECKING:
    from typing import BinaryIO


class Source:
    """Exact-size reads from a binary stream, with the offset and name for messages.

    Owns (and closes) the stream only when it opened it from a path."""

    def __init__(self, path_or_stream: str | os.PathLike | BinaryIO):
        if isinstance(path_or_stream, (str, os.PathLike)):
            self.name = os.fsdecode(path_or_stream)
            try:
                self._stream: BinaryIO = open(path_or_stream, "rb")
            except OSError as exc:
                raise CaptureError(f"{self.name}: cannot open: {exc.strerror}") from None
            self._owned = True
        else:
            self.name = getattr(path_or_stream, "name", None) or "<stream>"
            if not isinstance(self.name, str):
                self.name = "<stream>"
            self._stream = path_or_stream
            self._owned = False
        self.offset = 0

    def error(self, offset: int, reason: str) -> CaptureError:
        """A :class:`CaptureError` naming this source and a byte offset."""
        return CaptureError(f"{self.name}: byte {offset}: {reason}")

    def read_some(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at end of file), advancing the offset."""
        chunks = []
        wanted = size
        while wanted:
            try:
                chunk = self._stream.read(wanted)
            except OSError as exc:
                raise self.error(self.offset, f"read failed: {exc.strerror or exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        data = b"".join(chunks)
        self.offset += len(data)
        return data

    def read(self, size: int, what: str) -> bytes:
        """Exactly ``size`` bytes, or a "truncated <what>" error at the offset it began."""
        start = self.offset
        data = self.read_some(size)
        if len(data) != size:
            raise self.error(start, f"truncated {what} ({len(data)} of {size} bytes)")
        return data

    def regular_fileno(self) -> int | None:
        """The descriptor of the regular file this source opened from a path (so that it
        can be mapped from its start), else ``None`` (streams, pipes, devices)."""
        if not self._owned:
            return None
        fd = self._stream.fileno()
        return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None

    def size(self) -> int | None:
        """The total size in bytes when reading a regular file (for progress), else ``None``."""
        try:
            info = os.fstat(self._stream.fileno())
        except (OSError, AttributeError, ValueError):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def close(self) -> None:
        """Close the stream if this source opened it."""
        if self._owned:
            self._stream.close()
