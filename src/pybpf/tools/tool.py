"""A tool that prints one row per kernel event (execsnoop, opensnoop, ...): its BPF
program and event layout, its columns, and the flags BCC's snoop tools share
(``-p PID``, ``-n NAME``, ``-x`` failures only, ``-T`` time, ``-t`` timestamp, ``--json``,
``-d`` duration; ``-U`` UID column and ``-u UID`` where the event has a ``uid``)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from pybpf.tools import programflags
from pybpf.tools.events import EventLayout, event_program, monotonic_to_wall, stream

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import IO, Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class Column:
    """A printed column: header, the event key it shows, width (negative: left-aligned)."""

    header: str
    key: str
    width: int

    def cell(self, value: object) -> str:
        return f"{value!s:<{-self.width}}" if self.width < 0 else f"{value!s:>{self.width}}"


@dataclass(frozen=True)
class EventTool:
    """One event tool. ``derive`` adds display keys to each event (e.g. FD and ERR from
    a return value); ``failed`` says whether an event is a failure (for ``-x``); ``keep``
    applies the tool's own filter flags to a derived event. Every event tool takes
    ``--ebpf``; ``task_filters`` gives it BCC's ``--cgroupmap``/``--mntnsmap`` too
    (:mod:`pybpf.tools.programflags`)."""

    name: str
    description: str
    layout: EventLayout
    source: str | Callable[[argparse.Namespace], str]     # C text, or made from the arguments
    columns: tuple[Column, ...] | Callable[[argparse.Namespace], tuple[Column, ...]]   # fixed, or by the flags
    defines: Callable[[argparse.Namespace], Mapping[str, int]] = lambda args: {}
    derive: Callable[[dict], None] = lambda event: None
    failed: Callable[[dict], bool] | None = None
    keep: Callable[[argparse.Namespace, dict], bool] = lambda args, event: True   # the tool's own filters
    pid_key: str = "pid"
    comm_key: str = "comm"
    extra_arguments: Callable[[argparse.ArgumentParser], object] = lambda parser: None
    #: other ring buffers of the program by map name, each with a function given their
    #: records (see :func:`~pybpf.tools.events.stream`), made for each run
    side_rings: Callable[[argparse.Namespace], Mapping[str, Callable[[bytes], None]]] = lambda args: {}
    #: for each run, how to attach the loaded programs (given the loaded collection, it
    #: returns the links), or None: where their sections say (a uprobe on a file found at
    #: run time, threadsnoop's libc, cannot be named in a section)
    attach_programs: Callable[[argparse.Namespace], Callable[[Any], list[Any]] | None] = lambda args: None
    task_filters: bool = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The shared snoop flags."""
        parser.add_argument("-p", "--pid", type=int, help="only this process id")
        parser.add_argument("-n", "--name", help="only commands whose name matches this regular expression")
        if self.failed is not None:
            parser.add_argument("-x", "--failed", action="store_true", help="only failed calls")
        parser.add_argument("-T", "--time", action="store_true", help="include a time column (HH:MM:SS)")
        parser.add_argument("-t", "--timestamp", action="store_true", help="include seconds since the start")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per event")
        if self.has_uid:
            parser.add_argument("-U", "--print-uid", action="store_true", help="include a UID column")
            parser.add_argument("-u", "--uid", type=user_id, metavar="USER", help="only this user (a name or a user id)")
        programflags.add_arguments(parser, tasks=self.task_filters)
        self.extra_arguments(parser)

    @property
    def has_uid(self) -> bool:
        return any(name == "uid" for name, _ in self.layout.fields)

    def events(self, args: argparse.Namespace, tick: Callable[[], None] | None = None) -> Iterator[dict]:
        """Events that pass the filters, with their derived keys and wall-clock ``time``;
        ``tick()`` is called between waits for events (see :func:`~pybpf.tools.events.stream`)."""
        name = re.compile(args.name) if getattr(args, "name", None) else None
        wall = monotonic_to_wall()
        source = self.source(args) if callable(self.source) else self.source
        for event in stream(source, self.layout, name=self.name, defines=self.defines(args),
                            duration=getattr(args, "duration", None), side_rings=self.side_rings(args),
                            attach_programs=self.attach_programs(args), flags=args, tick=tick):
            if getattr(args, "pid", None) is not None and event.get(self.pid_key) != args.pid:
                continue
            if name is not None and not name.search(str(event.get(self.comm_key, ""))):
                continue
            if getattr(args, "failed", False) and self.failed is not None and not self.failed(event):
                continue
            if getattr(args, "uid", None) is not None and event.get("uid") != args.uid:
                continue
            self.derive(event)
            if not self.keep(args, event):
                continue
            event["time"] = (event["ts"] + wall) / 1e9
            yield event

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        """Print events as rows (or JSON lines) until the duration ends or Ctrl-C."""
        if getattr(args, "ebpf", False):        # the program instead of the header and rows
            source = self.source(args) if callable(self.source) else self.source
            programflags.prepared(event_program(source, self.layout), self.defines(args), args)
        columns = list(self.columns(args) if callable(self.columns) else self.columns)
        if getattr(args, "print_uid", False):
            columns.insert(0, Column("UID", "uid", -6))
        if args.timestamp:
            columns.insert(0, Column("TIME(s)", "_elapsed", -9))
        if args.time:
            columns.insert(0, Column("TIME", "_clock", -9))
        if getattr(args, "csv", False):      # a tool offering -s/--csv: unpadded cells, commas between
            columns = [Column(c.header, c.key, 0) for c in columns]
        write_rows(self.events(args), columns, out, as_json=args.json,
                   separator="," if getattr(args, "csv", False) else " ")
        return 0


def user_id(text: str) -> int:
    """``-u``'s user: a user id, or a name looked up in the password database (as BCC's
    execsnoop takes either)."""
    if text.isdigit():
        return int(text)
    import pwd

    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise argparse.ArgumentTypeError(f"no user named {text!r}") from None


def write_rows(events: Iterable[dict], columns: Sequence[Column], out: IO[str], *, as_json: bool,
               separator: str = " ") -> None:
    """An event tool's table: the header, then a row per event as it comes (or, with
    ``as_json``, one JSON object per event and no header). Besides the events' own keys,
    columns may show ``_clock`` (HH:MM:SS of the event's ``time``), ``_elapsed``
    (seconds since the first event) and ``_elapsed_ms`` (whole milliseconds since it)."""
    if not as_json:
        out.write(separator.join(c.cell(c.header) for c in columns).rstrip() + "\n")
        out.flush()
    start = None
    for event in events:
        if as_json:
            out.write(json.dumps(event) + "\n")
        else:
            start = event["ts"] if start is None else start
            shown = {**event, "_elapsed": f"{(event['ts'] - start) / 1e9:.3f}", "_elapsed_ms": (event["ts"] - start) // 1_000_000,
                     "_clock": time.strftime("%H:%M:%S", time.localtime(event["time"]))}
            out.write(separator.join(c.cell(shown[c.key]) for c in columns).rstrip() + "\n")
        out.flush()


@dataclass(frozen=True)
class CountedTool:
    """An event tool with BCC's ``-c``/``--count``: instead of a row per event, the number
    of events per key, printed at the end, fewest first (``descending``: most first) —
    tcpretrans per flow, tcpconnect per address pair and port. ``keys`` are the key's
    columns (event keys, headers, widths), ``json_keys`` their names in ``--json``, and
    ``count`` the count's column (its key is the JSON name; the status line a terminal
    shows while it counts names the events so). ``refuse`` raises a
    :class:`~pybpf.tools.events.ToolError` for flags the tool cannot honour, before
    anything is printed."""

    tool: EventTool
    keys: tuple[Column, ...]
    json_keys: tuple[str, ...]
    count: Column
    banner: str
    descending: bool = False
    refuse: Callable[[argparse.Namespace], None] = lambda args: None

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def description(self) -> str:
        return self.tool.description

    @property
    def layout(self) -> EventLayout:      # for `pybpf record`
        return self.tool.layout

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self.tool.add_arguments(parser)

    def events(self, args: argparse.Namespace) -> Iterator[dict]:
        self.refuse(args)
        return self.tool.events(args)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        self.refuse(args)
        if not args.count or getattr(args, "ebpf", False):
            return self.tool.run(args, out)
        if not args.json:
            out.write(self.banner + "\n")
            out.flush()
        from pybpf.tools.status import StatusLine

        counts: dict[tuple, int] = {}
        status = StatusLine(lambda: sum(counts.values()), what=self.count.key)
        for event in self.tool.events(args, tick=status.update):
            key = tuple(event[column.key] for column in self.keys)
            counts[key] = counts.get(key, 0) + 1
        status.clear()
        ordered = sorted(counts.items(), key=lambda item: -item[1] if self.descending else item[1])
        if args.json:
            out.writelines(json.dumps({**dict(zip(self.json_keys, key)), self.count.key: count}) + "\n"
                           for key, count in ordered)
        else:
            columns = (*self.keys, self.count)
            out.write("\n" + " ".join(c.cell(c.header) for c in columns).rstrip() + "\n")
            out.writelines(" ".join(c.cell(v) for c, v in zip(columns, (*key, count))).rstrip() + "\n"
                           for key, count in ordered)
        out.flush()
        return 0
