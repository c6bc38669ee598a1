"""Tools written in the trace language (``pybpf trace``'s bpftrace dialect): BCC's
funccount, funclatency, stackcount, trace, argdist and the libc/bash tools are a few probe
blocks each, so they generate a trace program instead of C. :class:`TraceRun` compiles it
(no clang: start-up is Python's), loads and attaches it, and hands the tool its data as
Python values — aggregation maps read (and cleared) per interval as counts, histograms
(:class:`pybpf.output.Histogram`) or stacks, and ``printf`` records as decoded argument
lists — so each tool prints BCC's columns itself."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cache

from pybpf.tools.events import ToolError
from pybpf.tools.status import StatusLine

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any

    from pybpf.trace.runtime import Session

    class ToolSession(Session):
        """What :func:`_tool_session` makes, declared for type checkers."""

        printed: list[Printed]
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


def held_command(command: str | list[str]):
    """``command`` (a -c string, or an argument vector) forked and held before exec until
    the probes are attached (``release()``, ``exited()``, ``stop()``): memleak ``-c``,
    syscount ``--exec``."""
    from pybpf.trace.errors import TraceRuntimeError
    from pybpf.trace.runtime import Child

    try:
        return Child(command)
    except TraceRuntimeError as exc:
        raise ToolError(str(exc)) from None


def program_argument(parser, *flags: str) -> None:
    """BCC's flag that prints the tool's program before it runs (funccount ``-D``,
    funclatency/argdist/trace ``-v``, stackcount ``--debug``): here the trace-language
    program, on stderr; pass ``show=args.show_program`` to :class:`TraceRun`."""
    parser.add_argument(*flags, dest="show_program", action="store_true",
                        help="print the generated trace-language program (on stderr) before running it")


def quote(text: str) -> str:
    """``text`` as a trace-language string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class TraceRun:
    """One trace program in the kernel, for a tool. Use as a context manager: entering
    loads and attaches every probe, leaving detaches and frees everything."""

    def __init__(self, source: str, *, pid: int | None = None, name: str = "tool", show: bool = False,
                 flags: Any = None, ring_size: int | None = None):
        """``flags`` (the tool's parsed arguments): with ``--ebpf``, raise
        :class:`~pybpf.tools.programflags.ProgramShown` with ``source`` instead of loading it.
        ``ring_size``: bytes of the ring buffer events come through (default the trace
        language's, 1 MiB)."""
        import sys

        from pybpf.tools.programflags import ProgramShown
        from pybpf.trace.errors import TraceError
        from pybpf.trace.runtime import Options, compile_source

        if getattr(flags, "ebpf", False):
            raise ProgramShown(source)
        if show:                    # BCC's -v/-D/--debug: the program, on stderr (stdout stays the tool's)
            sys.stderr.write(source if source.endswith("\n") else source + "\n")
            sys.stderr.flush()
        try:
            compiled = compile_source(source, filename=name)
        except TraceError as exc:
            raise ToolError(f"{name}: {exc}") from None
        self.name = name
        options = Options(pid=pid if pid else -1, quiet=True)
        if ring_size is not None:
            options.ring_size = ring_size
        self.session = _tool_session()(compiled, options)
        self._symbolizer: Any = None
        self._poller: Any = None

    def __enter__(self) -> TraceRun:
        import select

        from pybpf.trace.errors import TraceError

        try:
            self.session.load()
            self.session.attach()
            self._poller = select.epoll()
            self._poller.register(self.session.ring.fileno(), select.EPOLLIN)
        except TraceError as exc:
            self.__exit__()
            raise ToolError(f"{self.name}: {exc}") from None
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._poller is not None:
            self._poller.close()
        self.session.close()

    # -- printf records ----------------------------------------------------------------

    def records(self, timeout: float) -> list[Printed]:
        """``printf`` records that arrived within ``timeout`` seconds, in order."""
        if not self.session.printed:
            self._poller.poll(timeout)
        self.session.drain()
        found, self.session.printed = self.session.printed, []
        return found

    # -- maps ----------------------------------------------------------------------------

    def _rows(self, name: str, clear: bool) -> Iterator[tuple[tuple[Any, ...], bytes, list[bytes]]]:
        """(decoded key, raw key, per-CPU raw values) of map ``name``, deleting each row
        read when ``clear``."""
        from pybpf.trace.types import decode

        info = self.session.compiled.maps.get(name)
        if info is None:
            return
        kmap = self.session.kernel_maps[name]
        for key, raw in list(kmap.items()):
            values = raw if isinstance(raw, list) else [raw]
            decoded, at = [], 0
            for t in info.keys:
                decoded.append(decode(t, key, at))
                at += t.slot
            if clear:
                try:
                    del kmap[key]
                except KeyError:
                    pass
            yield tuple(decoded), bytes(key), values

    def counts(self, name: str, clear: bool = True) -> dict[tuple[Any, ...], int]:
        """A count()/sum() map: key tuple → total over CPUs."""
        return {key: sum(struct.unpack_from("<q", v)[0] for v in values) for key, _, values in self._rows(name, clear)}

    def histograms(self, name: str, clear: bool = True) -> dict[tuple[Any, ...], Any]:
        """A hist() map: key tuple (the bucket's slot left out) → Histogram."""
        from pybpf.output import Histogram

        info = self.session.compiled.maps.get(name)
        found: dict[tuple[Any, ...], Histogram] = {}
        for key, raw_key, values in self._rows(name, clear):
            slot = struct.unpack_from("<Q", raw_key, info.key_size)[0]   # type: ignore[union-attr]
            hist = found.setdefault(key, Histogram())
            hist.counts[slot] = hist.counts.get(slot, 0) + sum(struct.unpack_from("<q", v)[0] for v in values)
        return found

    def values(self, name: str, clear: bool = True) -> dict[tuple[Any, ...], Any]:
        """A map of assigned values: key tuple → decoded value."""
        from pybpf.trace.types import decode

        info = self.session.compiled.maps.get(name)
        if info is None or isinstance(info.value, str):
            return {}
        return {key: decode(info.value, values[0]) for key, _, values in self._rows(name, clear)}

    def frames(self, stack: Any, kernel: bool, offsets: bool = False) -> list[tuple[int, str]]:
        """A ``kstack``/``ustack`` key value as (address, function name — with ``+offset``
        when ``offsets``), innermost first; addresses without a symbol as hex."""
        from pybpf.symbols import SymbolError, Symbolizer
        from pybpf.trace.codegen import STACKS

        if self._symbolizer is None:
            self._symbolizer = Symbolizer()
        stack_id, pid = (int(stack), 0) if kernel else (int(stack[0]), int(stack[1]))
        raw = self.session.kernel_maps[STACKS].get(stack_id & 0xFFFF_FFFF) if STACKS in self.session.kernel_maps else None
        found = []
        for (address,) in struct.iter_unpack("<Q", bytes(raw or b"")):
            if not address:
                break
            try:
                where = self._symbolizer.kernel(address) if kernel else self._symbolizer.user(pid, address)
            except (SymbolError, OSError):
                where = None
            if where is None or not where.name:
                found.append((address, f"0x{address:x}"))
            else:
                found.append((address, f"{where.name}+0x{where.offset:x}" if offsets else where.name))
        return found


def follow(run: TraceRun, duration: float | None) -> Iterator[Printed]:
    """``run``'s printf records as they come, for ``duration`` seconds (None: until Ctrl-C)."""
    ticker = Ticker(None, duration)
    try:
        while duration is None or time.monotonic() - ticker.start < duration:
            yield from run.records(ticker.wait(0.2))
    except KeyboardInterrupt:
        pass
    yield from run.records(0)


def printed_events(source: str, fields: Sequence[str], *, name: str, pid: int | None = None,
                   duration: float | None = None, flags: Any = None) -> Iterator[dict[str, Any]]:
    """The records of ``source``, whose printf arguments are ``fields`` then ``nsecs``, as
    event dicts (``ts`` CLOCK_MONOTONIC ns, ``time`` Unix seconds) — an event tool's
    ``events()`` for ``pybpf record`` and its printing."""
    from pybpf.tools.events import monotonic_to_wall

    wall = monotonic_to_wall()
    with TraceRun(source, pid=pid, name=name, flags=flags) as run:
        for record in follow(run, duration):
            *values, ts = record.values
            yield {"ts": ts, **dict(zip(fields, values)), "time": (int(ts) + wall) / 1e9}


@dataclass(frozen=True)
class Printed:
    """One ``printf`` record: which printf of the program (``index``, in source order)
    and its decoded arguments."""

    index: int
    values: list[Any]
    types: list[Any]
    session: Session

    def render(self, text: str, start: int = 0) -> str:
        """``text``, a printf format, filled with the arguments from ``start`` on."""
        from pybpf.trace.printf import render

        return render(text, self.values[start:], self.types[start:], self.session.show)


@cache
def _tool_session() -> type[ToolSession]:
    """The trace session class whose printf records are kept, decoded, for the tool;
    made on first use, as it subclasses the trace runtime's Session: importing the
    runtime (the whole trace compiler, ~15 ms) is for running a tool, not for listing
    the tools or reading their flags."""
    from typing import cast

    from pybpf.trace.runtime import Session

    class Made(Session):
        """A trace session whose printf records are kept, decoded, for the tool."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.printed: list[Printed] = []
            printfs = [i for i, action in enumerate(self.compiled.actions) if action.kind == "printf"]
            self._printf_index = {action: n for n, action in enumerate(printfs)}

        def event(self, record: bytes) -> None:
            from pybpf.trace.types import decode

            action_id = struct.unpack_from("<Q", record)[0]
            action = self.compiled.actions[action_id]
            if action.kind != "printf":
                super().event(record)
                return
            values, at = [], 8
            for t in action.types:
                values.append(decode(t, record, at))
                at += t.slot
            self.printed.append(Printed(self._printf_index[action_id], values, list(action.types), self))

    return cast("type[ToolSession]", Made)


class Ticker:
    """When a tool that prints every ``interval`` seconds (None: only at the end) for
    ``duration`` seconds (None: until Ctrl-C, or until ``until()`` is true) reports: iterate
    to get ``False`` at each interval and ``True`` once at the end. ``step`` bounds each wait (for tools that
    poll events meanwhile: :meth:`wait` returns how long to wait now); ``pause(seconds)``
    waits (``time.sleep``, or a tool's poll for events meanwhile). While it sleeps, a
    :class:`~pybpf.tools.status.StatusLine` (``status``; by default one counting nothing)
    says on a terminal what the run is doing, cleared before each report; a tool that
    passes its own ``pause`` prints events meanwhile, so it gets no line unless it asks."""

    def __init__(self, interval: float | None, duration: float | None, until: Callable[[], bool] | None = None,
                 pause: Callable[[float], object] = time.sleep, status: StatusLine | None = None):
        if interval is not None and interval <= 0:
            raise ToolError(f"-i {interval}: the interval must be positive")
        if duration is not None and duration <= 0:
            raise ToolError(f"-d {duration}: the duration must be positive")
        self.interval, self.duration, self.until, self.pause = interval, duration, until, pause
        self.status = status if status is not None or pause is not time.sleep else StatusLine()
        self.start = self.last = time.monotonic()

    def __iter__(self) -> Iterator[bool]:
        try:
            while True:
                now = time.monotonic()
                if (self.duration is not None and now - self.start >= self.duration) or (self.until and self.until()):
                    break
                if self.interval is not None and now - self.last >= self.interval:
                    self.last = now
                    self._clear()
                    yield False
                    continue
                if self.status is not None:
                    self.status.update()
                self.pause(self.wait())
        except KeyboardInterrupt:
            pass
        self._clear()
        yield True

    def _clear(self) -> None:
        if self.status is not None:
            self.status.clear()

    def wait(self, step: float = 0.1) -> float:
        """Seconds to wait before something is due (at most ``step``)."""
        now = time.monotonic()
        due = [step]
        if self.duration is not None:
            due.append(self.start + self.duration - now)
        if self.interval is not None:
            due.append(self.last + self.interval - now)
        return max(0.0, min(due))
