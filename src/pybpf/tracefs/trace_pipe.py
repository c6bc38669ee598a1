"""Reading ``bpf_trace_printk`` output (and other trace events) from tracefs's trace_pipe.

trace_pipe is one shared, consuming stream for the whole system: each line is read by
exactly one reader. Lines look like
``  python3-1234  [001] d..31  5050.123456: bpf_trace_printk: hello`` and are parsed into
:class:`TraceLine` values; lines that do not parse are still delivered, as raw text.
"""

from __future__ import annotations

import os
import re
import select
from collections.abc import Iterator
from pathlib import Path

from pybpf.tracefs.errors import TracefsError
from pybpf.tracefs.mount import find_tracefs

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_LINE = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*(?P<tgid>[\d-]+)\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[^\s]{4,6})\s+)?(?P<time>\d+\.\d+):\s+(?P<event>[^:]+):\s?(?P<message>.*)$"
)


@dataclass(frozen=True)
class TraceLine:
    """One trace_pipe line; ``event`` is ``bpf_trace_printk`` for a BPF program's print."""

    raw: str
    comm: str = ""
    pid: int = -1
    cpu: int = -1
    timestamp: float = 0.0
    event: str = ""
    message: str = ""


def parse_trace_line(line: str) -> TraceLine:
    """Parse one line (without its newline); unparseable lines keep only ``raw``."""
    match = _LINE.match(line)
    if match is None:
        return TraceLine(line, message=line)
    return TraceLine(line, match["comm"], int(match["pid"]), int(match["cpu"]), float(match["time"]),
                     match["event"].strip(), match["message"])


class TracePipe:
    """A non-blocking reader of trace_pipe; :meth:`read` waits up to a timeout."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else find_tracefs() / "trace_pipe"
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise TracefsError(f"{self.path}: cannot open: {exc.strerror}") from None
        self._pending = b""

    def read(self, timeout: float = 0.0) -> list[TraceLine]:
        """The complete lines available within ``timeout`` seconds."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return []
        chunks = []
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        data = self._pending + b"".join(chunks)
        *lines, self._pending = data.split(b"\n")
        return [parse_trace_line(line.decode("utf-8", "replace")) for line in lines if line]

    def __iter__(self) -> Iterator[TraceLine]:
        """Lines forever (blocking); stop by breaking out or closing from elsewhere."""
        while True:
            yield from self.read(timeout=1.0)

    def fileno(self) -> int:
        """For poll loops."""
        return self._fd

    def close(self) -> None:
        """Stop reading (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> TracePipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
