"""argdist: count (``-C``) or histogram (``-H``) the values of expressions at user
functions, their returns, tracepoints and USDT probes, printed every interval (BCC's
argdist; built on the trace language — each specifier becomes a probe block adding to a
``count()`` map keyed by the expressions, or to a ``hist()``, read and cleared by Python
each interval; see :mod:`pybpf.tools.traced` and :mod:`pybpf.tools.bccprobes`).
Specifiers as BCC's: ``{p,r,t,u}:{LIBRARY,CATEGORY}:FUNCTION(SIGNATURE)[:TYPE[,TYPE...]:EXPR[,EXPR...][:FILTER]][#LABEL]``,
e.g. ``-C 't:syscalls:sys_enter_read():int:args->count'``, ``-H 'r:c:malloc():size_t:$retval'``,
``-C 'p:c:malloc(size_t size):size_t:size'``, ``-H 'r:c:getaddrinfo():u64:$latency'``; kernel
functions need kprobes, which this kernel lacks, and are refused with the tracepoint to
use. Flags as BCC's: ``-p PID``, ``-t TID``, ``-z SIZE``, ``-i INTERVAL`` (default 1),
``-d DURATION``, ``-n COUNT``, ``-c`` cumulative, ``-T TOP``, ``-I HEADER`` (its
struct/union definitions for expressions), ``--ebpf``; ``--layout bpftrace`` prints the
histograms in bpftrace's layout (:mod:`pybpf.tools.histlayout`); ``--json`` prints one
object per interval."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.bccprobes import Probe, cast, header_definitions, parse_probe
from pybpf.tools.events import ToolError
from pybpf.tools.histlayout import add_layout_argument, render
from pybpf.tools.traced import Ticker, TraceRun, program_argument

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import IO
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass
class Specifier:
    """One -C/-H specifier: its probe, the shown and translated expressions, the filter."""

    raw: str
    histogram: bool
    probe: Probe
    shown: list[str]          # the expressions as written, for the EVENT column
    values: list[str]         # the same in the trace language, cast to their types
    predicate: str
    label: str | None
    default: bool             # no expression given: calls (or $retval of a return probe)

    @property
    def title(self) -> str:
        return self.label or self.raw


def parse_specifier(raw: str, histogram: bool, string_size: int | None = None, pid: int | None = None) -> Specifier:
    """A -C/-H specifier as BCC's argdist reads it (library names as process ``pid`` maps
    them, when given)."""
    text, _, label = raw.partition("#")
    parts = text.strip().split(":")
    if len(parts) < 3 or "(" not in parts[2] or not parts[2].rstrip().endswith(")"):
        raise ToolError(f"{raw!r}: expected TYPE:LIBRARY:FUNCTION(SIGNATURE)[:TYPES:EXPRS[:FILTER]] "
                        f"(e.g. 'p:c:malloc(size_t size):size_t:size')")
    if len(parts) == 4 or len(parts) > 6:
        raise ToolError(f"{raw!r}: expected TYPES and EXPRESSIONS (and an optional FILTER) after the function")
    probe = parse_probe(":".join(parts[:3]), pid=pid)
    if len(parts) >= 5:
        types = [t.strip() for t in parts[3].split(",")]
        shown = [e.strip() for e in parts[4].split(",")]
        if len(types) != len(shown):
            raise ToolError(f"{raw!r}: {len(types)} types for {len(shown)} expressions")
    elif probe.kind == "r":
        types, shown = ["int"], ["$retval"]
    elif histogram:
        raise ToolError(f"{raw!r}: histograms need an expression")
    else:
        types, shown = ["u64"], ["1"]
    if histogram and len(shown) > 1:
        raise ToolError(f"{raw!r}: histograms can only have one expression")
    values = []
    for c_type, expression in zip(types, shown):
        value = cast(c_type, probe.expression(expression), raw)
        if string_size and value.startswith("str("):
            value = f"{value[:-1]}, {string_size})"
        values.append(value)
    predicate = probe.expression(parts[5]) if len(parts) == 6 and parts[5].strip() else ""
    return Specifier(raw, histogram, probe, shown, values, predicate, label or None, len(parts) < 5)


class Argdist:
    """The argdist tool."""

    name = "argdist"
    description = DESCRIPTIONS["argdist"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        program_argument(parser, "-v", "--verbose")
        programflags.add_arguments(parser)
        parser.add_argument("-p", "--pid", type=int, help="id of the process to trace")
        parser.add_argument("-t", "--tid", type=int, help="id of the thread to trace")
        parser.add_argument("-z", "--string-size", type=int, help="maximum string size to read (1-64, default 64)")
        parser.add_argument("-i", "--interval", type=float, default=1, help="output interval, in seconds (default 1)")
        parser.add_argument("-d", "--duration", type=float, help="total duration of trace, in seconds")
        parser.add_argument("-n", "--number", type=int, dest="count", help="number of outputs")
        parser.add_argument("-c", "--cumulative", action="store_true", help="do not clear histograms and counts between intervals")
        parser.add_argument("-T", "--top", type=int, help="number of top results to show (not for histograms)")
        parser.add_argument("-H", "--histogram", action="append", dest="histspecifier", metavar="specifier",
                            default=[], help="probe specifier to capture histogram of")
        parser.add_argument("-C", "--count", action="append", dest="countspecifier", metavar="specifier",
                            default=[], help="probe specifier to capture count of")
        parser.add_argument("-I", "--include", action="append", metavar="header",
                            help="a C header whose struct/union definitions expressions may use")
        add_layout_argument(parser)
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")

    def program(self, specifiers: list[Specifier], args: argparse.Namespace) -> str:
        tests = ([f"pid == {args.pid}"] if args.pid else []) + ([f"tid == {args.tid}"] if args.tid else [])
        blocks = [header_definitions(args.include or [])]
        for index, spec in enumerate(specifiers):
            probe = spec.probe
            entry = probe.entry_probe(f"/{' && '.join(tests)}/ " if tests else "") if probe.kind == "r" else ""
            when = ([probe.entry_guard()] if probe.entry_guard() else []) + tests + \
                ([f"({spec.predicate})"] if spec.predicate else [])
            update = (f"@m{index} = hist((uint64)({spec.values[0]}));" if spec.histogram
                      else f"@m{index}[{', '.join(spec.values)}] = count();")
            blocks.append(entry + f"{probe.point} {'/' + ' && '.join(when) + '/ ' if when else ''}"
                          f"{{ {update} {probe.entry_cleanup()} }}\n")
        return "".join(blocks)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        specifiers = [parse_specifier(s, True, args.string_size, args.pid) for s in args.histspecifier] + \
            [parse_specifier(s, False, args.string_size, args.pid) for s in args.countspecifier]
        if args.string_size is not None and not 0 < args.string_size <= 64:
            raise ToolError(f"-z {args.string_size}: the trace language reads strings of 1 to 64 bytes")
        if not specifiers:
            raise ToolError("at least one specifier is required (-C or -H)")
        printed = 0
        with TraceRun(self.program(specifiers, args), pid=args.pid, name=self.name, show=args.show_program, flags=args) as run:
            for last in Ticker(args.interval, args.duration):
                report = [self._report(run, index, spec, args) for index, spec in enumerate(specifiers)]
                if args.json:
                    out.write(json.dumps({"time": time.time(), "probes": report}) + "\n")
                else:
                    out.write(f"[{time.strftime('%H:%M:%S')}]\n")
                    for spec, shown in zip(specifiers, report):
                        out.write(spec.title + "\n")
                        if spec.histogram:
                            out.write(render(shown["histogram"], args, spec.label or spec.shown[0].lstrip("$")))
                        else:
                            out.write(f"\t{'COUNT':<10} EVENT\n")
                            out.writelines(f"\t{row['count']:<10} {row['event']}\n" for row in shown["counts"])
                out.flush()
                printed += 1
                if last or (args.count and printed >= args.count):
                    break
        return 0

    def _report(self, run: TraceRun, index: int, spec: Specifier, args: argparse.Namespace) -> dict:
        """One specifier's data this interval (a Histogram under "histogram" for text;
        JSON-ready otherwise)."""
        from pybpf.output import Histogram

        clear = not args.cumulative
        if spec.histogram:
            histogram = run.histograms(f"@m{index}", clear).get((), Histogram())
            return {"spec": spec.raw, "type": "histogram", "histogram": histogram} if not args.json else \
                {"spec": spec.raw, "label": spec.title, "type": "histogram",
                 "buckets": [{"low": lo, "high": hi, "count": c} for lo, hi, c in histogram.ranges()]}
        rows = sorted(run.counts(f"@m{index}", clear).items(), key=lambda kv: (kv[1], kv[0]))
        if args.top:
            rows = rows[-args.top:]
        counts = []
        for key, count in rows:
            if spec.default:
                event = f"retval = {key[0]}" if spec.probe.kind == "r" else "total calls"
            else:
                event = ", ".join(f"{shown} = {value}" for shown, value in zip(spec.shown, key))
            counts.append({"count": count, "event": event, "values": dict(zip(spec.shown, key))})
        return {"spec": spec.raw, "label": spec.title, "type": "count", "counts": counts}


TOOL = Argdist()
