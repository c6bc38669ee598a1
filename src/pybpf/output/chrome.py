"""Chrome trace-event JSON, the format chrome://tracing and the Perfetto UI open.

Why: a timeline of what each thread did is the quickest way to see latency, and these
viewers need no install. Events recorded as entry/exit pairs (a syscall's enter and exit,
a function's uprobe and uretprobe) become duration events (``ph: "B"``/``"E"``, or one
``"X"`` with its ``dur`` when both ends are known), single events become instants
(``"i"``), and map values sampled over time become counters (``"C"``). Times are given in
nanoseconds and written in microseconds, as the format wants (``displayTimeUnit`` "ns"
keeps the viewer's precision).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pybpf.output.errors import OutputError


def _us(ns: int) -> float:
    return ns / 1000.0


class ChromeTrace:
    """Events collected in memory, written as one JSON object by :meth:`dumps`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._open: dict[tuple[int, int, str], list[tuple[int, Mapping[str, Any]]]] = {}

    def _base(self, ph: str, name: str, ts_ns: int, pid: int, tid: int, category: str) -> dict[str, Any]:
        if not name:
            raise OutputError("Chrome trace: an event needs a name")
        if ts_ns < 0:
            raise OutputError(f"Chrome trace: event {name!r} has a negative timestamp {ts_ns}")
        return {"name": name, "cat": category, "ph": ph, "ts": _us(ts_ns), "pid": pid, "tid": tid}

    def begin(self, name: str, ts_ns: int, *, pid: int, tid: int, category: str = "pybpf",
              args: Mapping[str, Any] | None = None) -> None:
        """The entry of a duration on thread ``tid`` (closed by :meth:`end`)."""
        self._open.setdefault((pid, tid, name), []).append((ts_ns, dict(args or {})))

    def end(self, name: str, ts_ns: int, *, pid: int, tid: int, category: str = "pybpf",
            args: Mapping[str, Any] | None = None) -> bool:
        """The exit matching the innermost open :meth:`begin` of ``name`` on that thread,
        written as one complete (``X``) event; False when no entry was seen (the trace
        started inside the call), and nothing is written."""
        stack = self._open.get((pid, tid, name))
        if not stack:
            return False
        start, begin_args = stack.pop()
        if ts_ns < start:
            raise OutputError(f"Chrome trace: {name!r} on thread {tid} ends at {ts_ns} before it began at {start}")
        self.complete(name, start, ts_ns - start, pid=pid, tid=tid, category=category,
                      args={**begin_args, **(args or {})})
        return True

    def complete(self, name: str, ts_ns: int, duration_ns: int, *, pid: int, tid: int,
                 category: str = "pybpf", args: Mapping[str, Any] | None = None) -> None:
        """A duration known whole (``X``)."""
        if duration_ns < 0:
            raise OutputError(f"Chrome trace: {name!r} has a negative duration {duration_ns}")
        event = self._base("X", name, ts_ns, pid, tid, category)
        event["dur"] = _us(duration_ns)
        if args:
            event["args"] = dict(args)
        self.events.append(event)

    def instant(self, name: str, ts_ns: int, *, pid: int, tid: int, category: str = "pybpf",
                args: Mapping[str, Any] | None = None, scope: str = "t") -> None:
        """A point event (``i``) on a thread (scope ``t``), process (``p``) or globally (``g``)."""
        if scope not in ("t", "p", "g"):
            raise OutputError(f"Chrome trace: instant scope {scope!r}: expected t, p or g")
        event = self._base("i", name, ts_ns, pid, tid, category)
        event["s"] = scope
        if args:
            event["args"] = dict(args)
        self.events.append(event)

    def counter(self, name: str, ts_ns: int, values: Mapping[str, int | float], *, pid: int = 0,
                category: str = "pybpf") -> None:
        """Counter values (``C``): one series per key of ``values``, drawn stacked."""
        if not values:
            raise OutputError(f"Chrome trace: counter {name!r} needs at least one value")
        for key, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise OutputError(f"Chrome trace: counter {name!r} series {key!r} is not a number: {value!r}")
        event = self._base("C", name, ts_ns, pid, 0, category)
        event["args"] = dict(values)
        self.events.append(event)

    def thread_name(self, pid: int, tid: int, name: str) -> None:
        """Metadata (``M``) naming a thread in the viewer."""
        self.events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})

    def process_name(self, pid: int, name: str) -> None:
        """Metadata (``M``) naming a process in the viewer."""
        self.events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": name}})

    def unfinished(self) -> int:
        """How many entries are still waiting for their exit."""
        return sum(len(stack) for stack in self._open.values())

    def document(self) -> dict[str, Any]:
        """The JSON object: ``traceEvents`` sorted by time (metadata first)."""
        ordered = sorted(self.events, key=lambda e: (e["ph"] != "M", e.get("ts", 0.0)))
        return {"traceEvents": ordered, "displayTimeUnit": "ns"}

    def dumps(self) -> str:
        """The trace as JSON text."""
        return json.dumps(self.document(), separators=(",", ":"))
