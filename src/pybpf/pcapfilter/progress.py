"""A one-line progress display on stderr for long file jobs (``pybpf filter -r big -w out``).

Shown only when stderr is a terminal — a log file or a pipe gets nothing, not a stream of
carriage returns — and redrawn at most a few times a second, so that drawing it costs
nothing next to the work it reports on.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import TextIO

#: seconds between redraws
INTERVAL = 0.25


class Progress:
    """``N packets read, M matched, P%`` on one line, rewritten in place."""

    def __init__(self, total_bytes: int | None, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total_bytes
        self._next = time.monotonic() + INTERVAL
        self._shown = 0

    def update(self, read: int, matched: int, offset: int) -> None:
        """Report the counts so far (cheap to call often: draws only every INTERVAL)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + INTERVAL
        text = f"{read:,} packets read, {matched:,} matched"
        if self.total:
            text += f", {min(100.0, 100.0 * offset / self.total):.0f}% of the file"
        self.stream.write("\r" + text.ljust(self._shown))
        self.stream.flush()
        self._shown = len(text)

    def finish(self) -> None:
        """Erase the line, leaving the terminal as it was."""
        if self.enabled and self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0
