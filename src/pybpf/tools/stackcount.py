"""stackcount: count the stack traces that lead to events — tracepoints, user functions,
USDT probes — (BCC's stackcount; built on the trace language: ``@[pid, comm, kstack,
ustack] = count()`` per attach point, see :mod:`pybpf.tools.traced`). Patterns as
funccount's; kernel functions need kprobes, which this kernel lacks, and are refused with
the tracepoint to use. Flags as BCC's: ``-p PID``, ``-c CPU``, ``-i INTERVAL``,
``-D DURATION``, ``-T``, ``-r``, ``-s`` offsets, ``-P`` per process, ``-K``/``-U`` kernel or
user stacks only, ``-v`` addresses, ``-d`` a delimiter between kernel and user frames,
``-f`` folded lines; ``--svg FILE`` writes a flame graph of the stacks and ``--speedscope FILE``
speedscope JSON
(:mod:`pybpf.output`), ``--json`` one object per interval. Without ``-P``/``-p`` equal
stacks of different processes are merged after symbolising (user frames need the pid)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.funccount import filters
from pybpf.tools.probespec import resolve
from pybpf.tools.stacks import write_graphs
from pybpf.tools.status import StatusLine
from pybpf.tools.traced import Ticker, TraceRun, program_argument

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

Frames = tuple[tuple[int, str], ...]


class Stackcount:
    """The stackcount tool."""

    name = "stackcount"
    description = DESCRIPTIONS["stackcount"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        program_argument(parser, "--debug")
        parser.add_argument("-p", "--pid", type=int, help="trace this PID only")
        parser.add_argument("-c", "--cpu", type=int, help="trace this CPU only")
        parser.add_argument("-i", "--interval", type=float, help="summary interval, seconds")
        parser.add_argument("-D", "--duration", type=float, help="total duration of trace, seconds")
        parser.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
        parser.add_argument("-r", "--regexp", action="store_true", help='use regular expressions (default: "*" wildcards)')
        parser.add_argument("-s", "--offset", action="store_true", help="show address offsets")
        parser.add_argument("-P", "--perpid", action="store_true", help="display stacks separately for each process")
        only = parser.add_mutually_exclusive_group()
        only.add_argument("-K", "--kernel-stacks-only", action="store_true", help="kernel stack only")
        only.add_argument("-U", "--user-stacks-only", action="store_true", help="user stack only")
        parser.add_argument("-v", "--verbose", action="store_true", help="show raw addresses")
        parser.add_argument("-d", "--delimited", action="store_true", help="insert delimiter between kernel/user stacks")
        parser.add_argument("-f", "--folded", action="store_true", help="output folded format")
        parser.add_argument("--svg", metavar="FILE", help="also write a flame graph of the stacks here (at the end)")
        parser.add_argument("--speedscope", metavar="FILE", help="also write speedscope JSON of the stacks here (at the end)")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        parser.add_argument("pattern", help="events to count: t:sched:sched_switch, c:malloc, u:LIB:PROBE")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        from pybpf.output import fold

        targets = resolve(args.pattern, regex=args.regexp, pid=args.pid)
        kernel, user = not args.user_stacks_only, not args.kernel_stacks_only
        per_process = args.perpid or bool(args.pid)
        key = ", ".join(["pid", "comm"] + (["kstack"] if kernel else []) + (["ustack"] if user else []))
        source = "".join(f"{t.point} {filters(args)}{{ @[{key}] = count(); }}\n" for t in targets)
        everything: Counter[tuple[str, ...]] = Counter()
        with TraceRun(source, pid=args.pid, name=self.name, show=args.show_program) as run:
            if not args.folded and not args.json:
                out.write(f'Tracing {len(targets)} functions for "{args.pattern}"... Hit Ctrl-C to end.\n')
                out.flush()
            for last in Ticker(args.interval, args.duration, status=StatusLine(lambda: sum(run.counts("@").values()))):
                stacks: Counter[tuple[int, str, Frames, Frames]] = Counter()
                for (pid, comm, *ids), count in run.counts("@").items():
                    kframes = tuple(run.frames(ids.pop(0), True, args.offset)) if kernel else ()
                    uframes = tuple(run.frames(ids.pop(0), False, args.offset)) if user else ()
                    if not per_process:
                        kframes, uframes = (tuple((0, n) for _, n in f) for f in (kframes, uframes))
                    stacks[(int(pid) if per_process else -1, str(comm) if per_process else "", kframes, uframes)] += count
                rows = sorted(stacks.items(), key=lambda row: (row[1], row[0]))
                folded = [((*([comm] if per_process else []), *(n for _, n in reversed(u)), *(["-"] if args.delimited and kernel and user else []),
                            *(n for _, n in reversed(k))), count) for (_, comm, k, u), count in rows]
                everything.update(dict(folded))
                if args.json:
                    out.write(json.dumps({"time": time.time(), "stacks": [
                        {**({"pid": pid, "comm": comm} if per_process else {}), "count": count,
                         **({"kernel_stack": [n for _, n in k]} if kernel else {}),
                         **({"user_stack": [n for _, n in u]} if user else {})}
                        for (pid, comm, k, u), count in rows]}) + "\n")
                elif args.folded:
                    out.write((time.strftime("%H:%M:%S") + "\n" if args.timestamp else "") + fold(folded))
                else:
                    out.write("\n" + (time.strftime("%H:%M:%S") + "\n" if args.timestamp else ""))
                    for (pid, comm, k, u), count in rows:
                        out.writelines(self._frame(address, name, args.verbose) for address, name in k)
                        if args.delimited and kernel and user:
                            out.write("    --\n")
                        out.writelines(self._frame(address, name, args.verbose) for address, name in u)
                        if per_process and not args.pid:
                            out.write(f"    {comm} [{pid}]\n")
                        out.write(f"    {count}\n\n")
                    if last:
                        out.write("Detaching...\n")
                out.flush()
        write_graphs(sorted(everything.items()), args, title=f"stackcount {args.pattern}")
        return 0

    @staticmethod
    def _frame(address: int, name: str, verbose: bool) -> str:
        return f"  {address:<16x} {name}\n" if verbose else f"  {name}\n"


TOOL = Stackcount()
