"""The status line of tools that print only every interval or at the end (histograms,
syscount, profile, offcputime, ...): on a terminal, stderr shows what the run is doing —
``Tracing... 12 s, 3,456 events, Ctrl-C to end`` — rewritten in place about once a second
and cleared before the tool prints; when stderr is not a terminal nothing is written.
:func:`intervals` is the wait loop those tools share: it keeps the line fresh and says
when to print."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO


class StatusLine:
    """A line on ``stream`` (stderr) kept up to date while a tool runs, if it is a tty.
    ``count()`` (optional) gives the events seen so far, e.g. a map's sum."""

    def __init__(self, count: Callable[[], int] | None = None, *, what: str = "events",
                 stream: IO[str] | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.count = count
        self.what = what
        self.start = time.monotonic()
        self.shown = False
        self._last = float("-inf")
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False

    def text(self) -> str:
        """What the line says now."""
        parts = [f"Tracing... {time.monotonic() - self.start:.0f} s"]
        if self.count is not None:
            parts.append(f"{self.count():,} {self.what}")
        return ", ".join(parts) + ", Ctrl-C to end"

    def update(self, *, force: bool = False) -> None:
        """Rewrite the line (at most about once a second unless ``force``)."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 1.0):
            return
        self._last = now
        self.stream.write("\r" + self.text() + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Take the line away (before the tool prints, and at the end)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
            self._last = float("-inf")


def intervals(status: StatusLine, *, duration: float | None = None, interval: float | None = None,
              count: int | None = None, until: Callable[[], bool] | None = None) -> Iterator[bool]:
    """Wait while the tool traces, keeping ``status`` fresh; yield each time the tool
    should print — True at the end of each ``interval`` (until ``count`` of them), then
    False once at the end of the run (``duration`` passed, ``until()`` true, or Ctrl-C)
    unless the last interval has just been printed. The status line is cleared before
    every yield."""
    end = None if duration is None else time.monotonic() + duration
    printed, last = 0, time.monotonic()
    try:
        while (end is None or time.monotonic() < end) and not (until and until()):
            status.update()
            time.sleep(0.1 if end is None else max(0.0, min(0.1, end - time.monotonic())))
            if interval and time.monotonic() - last >= interval:
                status.clear()
                yield True
                printed, last = printed + 1, time.monotonic()
                if count and printed >= count:
                    return
    except KeyboardInterrupt:
        pass
    status.clear()
    if not interval or time.monotonic() - last > 0.05:
        yield False


def interval_arguments(parser) -> None:
    """BCC's ``[interval [count]]`` positionals and ``-T`` (a time with each report), as the
    histogram and summary tools take them."""
    parser.add_argument("interval", nargs="?", type=float, default=None, help="print every this many seconds")
    parser.add_argument("count", nargs="?", type=int, default=None, help="stop after this many intervals")
    parser.add_argument("-T", "--timestamp", action="store_true", help="print a time with each interval")


def report_intervals(tracing, args, out: IO[str], *, banner: str, report: Callable[[], None],
                     counted: Callable[[], int] | None = None, what: str = "events",
                     until: Callable[[], bool] | None = None) -> None:
    """The run of a tool that prints only every interval or at the end: the banner (not
    with ``--json``), then the wait with a status line counting ``counted()`` ``what``,
    and ``report()`` at the end of each interval (``args.interval``, ``args.count``) and of
    the run (``args.duration``, or ``until()``). Before the last report the programs are detached
    (``tracing``, a :class:`pybpf.tools.loading.Tracing`), so maps read one after another
    agree with one another."""
    if not args.json:
        out.write(banner + "\n")
        out.flush()
    status = StatusLine(counted, what=what)
    for periodic in intervals(status, duration=args.duration, interval=getattr(args, "interval", None),
                              count=getattr(args, "count", None), until=until):
        if not periodic:
            tracing.detach()
        report()
