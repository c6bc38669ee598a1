"""pythoncalls: count a Python process's function calls (and, with ``-L``, their total
time), printed every interval or at the end (BCC's ucalls ``-l python``; built on pybpf's
own API — a C program on the interpreter's ``python:function__entry``/``function__return``
USDT probes counting in a hash map keyed by (file, function), see
:mod:`pybpf.tools.pythonusdt`). Columns as BCC's: METHOD (``FILE.FUNCTION``), # CALLS and
with ``-L`` TIME (us) (``-m``: ms). Flags as BCC's: ``pid [interval]``, ``-T TOP``, ``-L``,
``-m``; ``-d DURATION`` stops, ``--json`` prints one object per interval. Calls are counted
at their return (CPython 3.11 fires no entry probe)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.pythonusdt import python_probes
from pybpf.tools.traced import Ticker

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO, Any


def _text(raw: object) -> str:
    """A C string read from a map key (decoded already, or bytes up to the NUL)."""
    if isinstance(raw, str):
        return raw.split("\0", 1)[0]
    return bytes(raw).split(b"\0", 1)[0].decode(errors="replace")      # type: ignore[call-overload]


class Pythoncalls:
    """The pythoncalls tool."""

    name = "pythoncalls"
    description = DESCRIPTIONS["pythoncalls"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pid", type=int, help="process id to attach to")
        parser.add_argument("interval", type=float, nargs="?", help="print every this many seconds")
        parser.add_argument("-T", "--top", type=int, help="number of most frequent/slow calls to print")
        parser.add_argument("-L", "--latency", action="store_true", help="record method latency from enter to exit")
        parser.add_argument("-m", "--milliseconds", action="store_true", help="report times in milliseconds")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        from pybpf.engine import load
        from pybpf.object.elf import load_object
        from pybpf.toolchain.compile import compile_c

        probes = python_probes(args.pid, flow=False, latency=args.latency)
        spec = load_object(compile_c(probes.program, defines=probes.defines), name=self.name)
        with load(spec, engine="kernel") as loaded:
            links = probes.attach(loaded)
            try:
                if not args.json:
                    out.write(f"Tracing calls in process {args.pid} (language: python)... Ctrl-C to quit.\n")
                    out.flush()
                for last in Ticker(args.interval, args.duration):
                    self._report(loaded.maps["calls"], args, out, clear=not last)
                    if last:
                        break
            finally:
                for link in links:
                    link.close()
        return 0

    def _report(self, calls: Any, args: argparse.Namespace, out: IO[str], clear: bool) -> None:
        rows = sorted(((f"{_text(key.clazz)}.{_text(key.method)}", value.calls, value.total_ns)
                       for key, value in calls.items()), key=lambda r: (r[2] if args.latency else r[1], r[0]))
        if clear:
            calls.clear()
        if args.top:
            rows = rows[-args.top:]
        if args.json:
            out.write(json.dumps({"time": time.time(), "calls": [
                {"method": m, "calls": c, **({"total_ns": t} if args.latency else {})} for m, c, t in rows]}) + "\n")
        else:
            unit = "ms" if args.milliseconds else "us"
            out.write("\n" + (f"{'METHOD':<50} {'# CALLS':>8} {f'TIME ({unit})':>8}\n" if args.latency else
                              f"{'METHOD':<50} {'# CALLS':>8}\n"))
            for method, count, total in rows:
                scaled = total / (1e6 if args.milliseconds else 1e3)
                out.write(f"{method:<50} {count:>8} {scaled:6.2f}\n" if args.latency else f"{method:<50} {count:>8}\n")
        out.flush()


TOOL = Pythoncalls()
