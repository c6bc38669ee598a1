"""pythonflow: print a Python process's function calls and returns as they happen,
indented by depth (BCC's uflow ``-l python``; built on pybpf's own API — a C program on
the interpreter's ``python:function__entry``/``function__return`` USDT probes, see
:mod:`pybpf.tools.pythonusdt`). Columns as BCC's: CPU PID TID TIME(us) METHOD (``->`` call,
``<-`` return, ``FILE.FUNCTION``). Flags as BCC's: ``pid``, ``-M METHOD`` and ``-C CLASS``
(only methods / files starting with these); ``-d DURATION`` stops, ``--json`` prints one
object per call or return."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import monotonic_to_wall, stream
from pybpf.tools.pythonusdt import LAYOUT, python_probes

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO, Any


class Pythonflow:
    """The pythonflow tool."""

    name = "pythonflow"
    description = DESCRIPTIONS["pythonflow"]
    layout = LAYOUT

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pid", type=int, help="process id to attach to")
        parser.add_argument("-M", "--method", help="trace only calls to methods starting with this prefix")
        parser.add_argument("-C", "--class", dest="clazz", help="trace only calls to classes (files) starting with this prefix")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per call or return")

    def events(self, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
        """One event per call or return passing ``-M``/``-C``: pid, tid, cpu, depth,
        direction, file (clazz), function (method), ts, time."""
        probes = python_probes(args.pid, flow=True)
        wall = monotonic_to_wall()
        for event in stream(probes.program, LAYOUT, name=self.name, defines=probes.defines, duration=args.duration,
                            attach_programs=probes.attach):
            clazz, method = str(event["clazz"]), str(event["method"])
            if (args.method and not method.startswith(args.method)) or (args.clazz and not clazz.startswith(args.clazz)):
                continue
            raw = int(event["depth"])                                 # type: ignore[call-overload]
            yield {**event, "depth": raw & ~(1 << 63), "direction": "return" if raw >> 63 else "call",
                   "file": clazz, "function": method, "time": (int(event["ts"]) + wall) / 1e9}  # type: ignore[call-overload]

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        start = None
        events = self.events(args)
        if not args.json:
            out.write(f"Tracing method calls in python process {args.pid}... Ctrl-C to quit.\n"
                      f"{'CPU':<3} {'PID':<6} {'TID':<6} {'TIME(us)':<8} METHOD\n")
            out.flush()
        for event in events:
            start = event["ts"] if start is None else start
            if args.json:
                out.write(json.dumps({k: v for k, v in event.items() if k not in ("clazz", "method")}) + "\n")
            else:
                arrow = "<- " if event["direction"] == "return" else "-> "
                out.write(f"{event['cpu']:<3} {event['pid']:<6} {event['tid']:<6} {(event['ts'] - start) / 1e3:<8.3f} "
                          f"{'  ' * max(event['depth'] - 1, 0)}{arrow}{event['file']}.{event['function']}\n")
            out.flush()
        return 0


TOOL = Pythonflow()
