"""funclatency: time user functions from entry to return and print the latencies as
log2 histograms (BCC's funclatency; built on the trace language — a uprobe keeps the
entry time per thread, the uretprobe adds the delta to ``hist()``; see
:mod:`pybpf.tools.traced`). Patterns as funccount's (user functions: ``c:getaddrinfo``,
``/path/binary:func*``); kernel functions need kprobes, which this kernel lacks, and are
refused with the tracepoint to use. Flags as BCC's: ``-p PID``, ``-i INTERVAL``,
``-d DURATION``, ``-T``, ``-u`` microseconds, ``-m`` milliseconds, ``-F`` one histogram per
function, ``-r``; ``--json`` prints one object per interval."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.events import ToolError
from pybpf.tools.funccount import add_timing_arguments, filters
from pybpf.tools.histlayout import add_layout_argument, render
from pybpf.tools.probespec import resolve
from pybpf.tools.status import StatusLine
from pybpf.tools.traced import Ticker, TraceRun, program_argument, quote

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

_DIVISORS = {"nsecs": 1, "usecs": 1000, "msecs": 1_000_000}


class Funclatency:
    """The funclatency tool."""

    name = "funclatency"
    description = DESCRIPTIONS["funclatency"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        program_argument(parser, "-v", "--verbose")
        programflags.add_arguments(parser)
        add_timing_arguments(parser)
        units = parser.add_mutually_exclusive_group()
        units.add_argument("-u", "--microseconds", action="store_true", help="microsecond histogram")
        units.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
        parser.add_argument("-F", "--function", action="store_true", help="show a separate histogram per function")
        parser.add_argument("-l", "--level", type=int,
                            help="time the outermost LEVEL calls of nested or recursive calls, each from its entry")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        add_layout_argument(parser)
        parser.add_argument("pattern", help="functions to time: c:getaddrinfo, /path/binary:func*")

    @staticmethod
    def _probes(point: str, when: str, record: str, divisor: int, level: int | None) -> str:
        """The entry and return probes of one function: ``record`` runs at each timed return
        with ``$delta``. Without ``level`` a thread's last entry is timed (as BCC without
        -l); with it, the outermost ``level`` calls of nested or recursive calls, each from
        its own entry (a per-thread depth, and a start time per depth)."""
        back = f"uret{point[1:]}"
        if level is None:
            return (f"{point} {when}{{ @start[tid] = nsecs; }}\n"
                    f"{back} /@start[tid]/ {{ $delta = (nsecs - @start[tid]) / {divisor}; {record} "
                    f"delete(@start[tid]); }}\n")
        return (f"{point} {when}{{ @depth[tid]++; $depth = @depth[tid] - 1; "
                f"if ($depth < {level}) {{ @start[tid, $depth] = nsecs; }} }}\n"
                f"{back} /@depth[tid]/ {{ @depth[tid]--; $depth = @depth[tid]; "
                f"if ($depth < {level}) {{ $delta = (nsecs - @start[tid, $depth]) / {divisor}; {record} "
                f"delete(@start[tid, $depth]); }} }}\n")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        targets = resolve(args.pattern, regex=args.regexp, usdt=False, pid=args.pid)
        if any(not t.point.startswith("uprobe:") for t in targets):
            raise ToolError(f"{args.pattern}: funclatency times functions (entry to return), not tracepoints")
        unit = "msecs" if args.milliseconds else "usecs" if args.microseconds else "nsecs"
        per_function = args.function or len(targets) > 1
        when = filters(args)
        if args.level is not None and args.level < 1:
            raise ToolError(f"-l {args.level}: the number of nesting levels is at least 1")
        source = "".join(self._probes(t.point, when, f"@dist[{quote(t.label) if per_function else quote('')}, "
                                      f"{'pid' if per_function else 0}] = hist($delta); @total = sum($delta); "
                                      f"@calls = count();", _DIVISORS[unit], args.level) for t in targets)
        with TraceRun(source, pid=args.pid, name=self.name, show=args.show_program, flags=args) as run:
            if not args.json:
                out.write(f'Tracing {len(targets)} functions for "{args.pattern}"... Hit Ctrl-C to end.\n')
                out.flush()
            status = StatusLine(lambda: run.counts("@calls").get((), 0), what="calls")
            for last in Ticker(args.interval, args.duration, status=status):
                dists = run.histograms("@dist")
                total, calls = run.counts("@total").get((), 0), run.counts("@calls").get((), 0)
                if args.json:
                    out.write(json.dumps({"time": time.time(), "unit": unit, "total": total, "count": calls,
                                          "histograms": [{**({"function": f, "pid": p} if per_function else {}),
                                                          "buckets": [{"low": lo, "high": hi, "count": c}
                                                                      for lo, hi, c in hist.ranges()]}
                                                         for (f, p), hist in sorted(dists.items())]}) + "\n")
                else:
                    out.write("\n" + (time.strftime("%H:%M:%S") + "\n" if args.timestamp else ""))
                    for (function, pid), hist in sorted(dists.items()):
                        if per_function:
                            out.write(f"\nFunction = {function} [{pid}]\n")
                        out.write(render(hist, args, unit))
                    if calls:
                        out.write(f"\navg = {total // calls} {unit}, total: {total} {unit}, count: {calls}\n\n")
                    if last:
                        out.write("Detaching...\n")
                out.flush()
        return 0


TOOL = Funclatency()
