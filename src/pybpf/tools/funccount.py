"""funccount: count calls of user functions, tracepoints and USDT probes matching a
pattern (BCC's funccount; built on the trace language — one ``@[label] = count()`` block
per attach point, see :mod:`pybpf.tools.traced`). Patterns as BCC's
(:mod:`pybpf.tools.probespec`): ``c:malloc*``, ``/path/lib:func*``, ``t:syscalls:sys_enter_*``,
``u:/usr/bin/python3:function__entry``; kernel functions need kprobes, which this kernel
lacks, and are refused with the tracepoint to use. Flags as BCC's: ``-p PID``,
``-i INTERVAL``, ``-d DURATION``, ``-T`` timestamps, ``-r`` regular expressions, ``-c CPU``;
``--json`` prints one object per interval."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.probespec import resolve
from pybpf.tools.status import StatusLine
from pybpf.tools.traced import Ticker, TraceRun, program_argument, quote

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO


def filters(args: argparse.Namespace) -> str:
    """The predicate of ``-p PID`` and ``-c CPU`` (where the tool has it; empty when neither is given)."""
    tests = ([f"pid == {args.pid}"] if args.pid else []) + ([f"cpu == {args.cpu}"] if getattr(args, "cpu", None) is not None else [])
    return f"/{' && '.join(tests)}/ " if tests else ""


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    """``-p``, ``-i``, ``-d``, ``-T``, ``-r`` as BCC's function tools take them."""
    parser.add_argument("-p", "--pid", type=int, help="trace this PID only")
    parser.add_argument("-i", "--interval", type=float, help="summary interval, seconds")
    parser.add_argument("-d", "--duration", type=float, help="total duration of trace, seconds")
    parser.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    parser.add_argument("-r", "--regexp", action="store_true", help='use regular expressions (default: "*" wildcards)')


class Funccount:
    """The funccount tool."""

    name = "funccount"
    description = DESCRIPTIONS["funccount"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        program_argument(parser, "-D", "--debug")
        add_timing_arguments(parser)
        parser.add_argument("-c", "--cpu", type=int, help="trace this CPU only")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        parser.add_argument("pattern", help="what to count: c:malloc, /bin/bash:read*, t:sched:sched_*, u:LIB:PROBE")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        targets = resolve(args.pattern, regex=args.regexp, pid=args.pid)
        source = "".join(f"{t.point} {filters(args)}{{ @[{quote(t.label)}] = count(); }}\n" for t in targets)
        with TraceRun(source, pid=args.pid, name=self.name, show=args.show_program) as run:
            if not args.json:
                out.write(f'Tracing {len(targets)} functions for "{args.pattern}"... Hit Ctrl-C to end.\n')
                out.flush()
            for last in Ticker(args.interval, args.duration, status=StatusLine(lambda: sum(run.counts("@").values()))):
                counts = sorted(((key[0], count) for key, count in run.counts("@").items() if count),
                                key=lambda row: (row[1], row[0]))
                if args.json:
                    out.write(json.dumps({"time": time.time(), "counts": [{"func": f, "count": c} for f, c in counts]}) + "\n")
                else:
                    out.write("\n" + (time.strftime("%H:%M:%S") + "\n" if args.timestamp else ""))
                    out.write(f"{'FUNC':<36} {'COUNT':>8}\n")
                    out.writelines(f"{func:<36} {count:>8}\n" for func, count in counts)
                    if last:
                        out.write("Detaching...\n")
                out.flush()
        return 0


TOOL = Funccount()
