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
from typing import IO

from pybpf.tools.events import monotonic_to_wall, stream
from pybpf.tools.pythonusdt import LAYOUT, python_probes


class Pythonflow:
    """The pythonflow tool."""

    name = "pythonflow"
    description = "Print a Python process's function calls and returns, indented by depth (USDT)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pid", type=int, help="process id to attach to")
        parser.add_argument("-M", "--method", help="trace only calls to methods starting with this prefix")
        parser.add_argument("-C", "--class", dest="clazz", help="trace only calls to classes (files) starting with this prefix")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per call or return")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        probes = python_probes(args.pid, flow=True)
        wall, start = monotonic_to_wall(), None
        if not args.json:
            out.write(f"Tracing method calls in python process {args.pid}... Ctrl-C to quit.\n"
                      f"{'CPU':<3} {'PID':<6} {'TID':<6} {'TIME(us)':<8} METHOD\n")
            out.flush()
        for event in stream(probes.program, LAYOUT, name=self.name, defines=probes.defines, duration=args.duration,
                            attach_programs=probes.attach):
            clazz, method = str(event["clazz"]), str(event["method"])
            if (args.method and not method.startswith(args.method)) or (args.clazz and not clazz.startswith(args.clazz)):
                continue
            raw = int(event["depth"])                                 # type: ignore[call-overload]
            returning, depth = bool(raw >> 63), raw & ~(1 << 63)
            start = int(event["ts"]) if start is None else start      # type: ignore[call-overload]
            if args.json:
                out.write(json.dumps({"time": (int(event["ts"]) + wall) / 1e9, "cpu": event["cpu"],  # type: ignore[call-overload]
                                      "pid": event["pid"], "tid": event["tid"], "depth": depth,
                                      "direction": "return" if returning else "call", "file": clazz,
                                      "function": method}) + "\n")
            else:
                elapsed = (int(event["ts"]) - start) / 1e3             # type: ignore[call-overload]
                arrow = "<- " if returning else "-> "
                out.write(f"{event['cpu']:<3} {event['pid']:<6} {event['tid']:<6} {elapsed:<8.3f} "
                          f"{'  ' * max(depth - 1, 0)}{arrow}{clazz}.{method}\n")
            out.flush()
        return 0


TOOL = Pythonflow()
