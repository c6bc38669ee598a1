"""hardirqs and softirqs' shared machinery: time spent in each interrupt handler (by
handler name) or softirq (by vector), summed, counted (``-C``) or as log2 histograms
(``-d``), printed every interval — BCC's hardirqs and softirqs, on the irq tracepoints
(irq_handler_entry/exit, softirq_entry/exit; built on pybpf's own API, histograms through
pybpf.output). The entry time waits in a per-CPU slot (handlers do not nest on a CPU); at
exit the time (or 1) is added to a hash map keyed by ``struct ikey { slot, vec, name }``
that Python reads and clears each interval. Flags as BCC's: ``interval`` and ``count``
positionals, ``-T``, ``-N`` nanoseconds, ``-C`` counts, ``-d`` distributions, ``-c CPU``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

from pybpf.tools import programflags
from pybpf.tools.csnippets import LOG2_SLOT, MAP_ADD
from pybpf.tools.histlayout import add_layout_argument, render
from pybpf.tools.latency import buckets
from pybpf.tools.loading import running
from pybpf.tools.status import interval_arguments, report_intervals

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import IO
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

HEADER = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""struct ikey { u32 slot; u32 vec; char name[32]; };
struct start { u64 ts; u32 vec; char name[32]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct ikey); __type(value, u64); } times SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct start); } started SEC(".maps");
""" + LOG2_SLOT + r"""
/* this CPU's entry slot, or NULL when -c names another CPU */
static __always_inline struct start *slot_here(void)
{
    u32 zero = 0;
    if (IRQ_CPU >= 0 && bpf_get_smp_processor_id() != IRQ_CPU)
        return NULL;
    return bpf_map_lookup_elem(&started, &zero);
}

/* at exit: add the time since entry (or 1, or one to its bucket) under the entry's key */
static __always_inline void record(void)
{
    struct start *s = slot_here();
    if (!s || !s->ts)
        return;
    u64 delta = bpf_ktime_get_ns() - s->ts, value = IRQ_COUNT || IRQ_DIST ? 1 : delta;
    struct ikey key = { .vec = s->vec };
    __builtin_memcpy(key.name, s->name, sizeof(key.name));
    s->ts = 0;
    if (IRQ_DIST)
        key.slot = log2_slot(delta / UNIT_DIVISOR);
    map_add(&times, &key, value);
}
"""


@dataclass(frozen=True)
class IrqTool:
    """One of the two tools: ``source`` fills the entry slot and calls ``record()`` at
    exit; ``key_name`` names a map key (handler name, or softirq vector name)."""

    name: str
    description: str
    source: str
    kind: str                                   # "hardirq" / "softirq": headings and labels
    column_width: int                           # of the name column, as BCC's
    what: str                                   # for the banner: "hard irq event time"
    key_name: Callable[[object], str]
    defines: Callable[[], dict[str, int]] = dict

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        interval_arguments(parser)
        parser.add_argument("-N", "--nanoseconds", action="store_true", help="nanoseconds (default microseconds)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("-C", "--count-events", dest="count_events", action="store_true",
                          help="count events instead of timing them")
        mode.add_argument("-d", "--dist", action="store_true", help="time distributions as histograms")
        parser.add_argument("-c", "--cpu", type=int, help="only this CPU")
        parser.add_argument("--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        programflags.add_arguments(parser)
        add_layout_argument(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        from pybpf.tools.events import ToolError

        if args.cpu is not None and not 0 <= args.cpu < (os.cpu_count() or 1):
            raise ToolError(f"-c {args.cpu}: this machine has CPUs 0 to {(os.cpu_count() or 1) - 1}")
        defines = {"UNIT_DIVISOR": 1 if args.nanoseconds else 1000, "IRQ_COUNT": int(args.count_events),
                   "IRQ_DIST": int(args.dist), "IRQ_CPU": -1 if args.cpu is None else args.cpu, **self.defines()}
        with running(HEADER + self.source, name=self.name, defines=defines, flags=args) as loaded:
            times = loaded.maps["times"]
            counted = args.count_events or args.dist           # map values are events, not times
            report_intervals(loaded, args, out, banner=f"Tracing {self.what}... Hit Ctrl-C to end.",
                             report=lambda: self._report(times, args, out),
                             counted=(lambda: sum(times.values())) if counted else None)
        return 0

    def _report(self, times, args: argparse.Namespace, out: IO[str]) -> None:
        from pybpf.output import Histogram

        unit = "nsecs" if args.nanoseconds else "usecs"
        entries = list(times.items())
        times.clear()
        if not args.json:
            out.write("\n" + (f"{time.strftime('%H:%M:%S'):<8}\n" if args.timestamp else ""))
        if args.dist:
            histograms: dict[str, Histogram] = {}
            for key, count in entries:
                histograms.setdefault(self.key_name(key), Histogram()).counts[key.slot] = count
            if args.json:
                out.write(json.dumps({"time": time.time(), "unit": unit, "histograms": [
                    {self.kind: name, "buckets": buckets(histograms[name])} for name in sorted(histograms)]}) + "\n")
            else:
                for name in sorted(histograms):
                    out.write(f"\n{self.kind} = {name}\n{render(histograms[name], args, unit)}")
        else:
            totals: dict[str, int] = {}
            for key, value in entries:
                totals[self.key_name(key)] = totals.get(self.key_name(key), 0) + value
            divisor = 1 if args.count_events or args.nanoseconds else 1000
            label = "count" if args.count_events else unit
            rows = sorted(((name, value // divisor) for name, value in totals.items()), key=lambda row: (row[1], row[0]))
            if args.json:
                out.write(json.dumps({"time": time.time(), "unit": label,
                                      "rows": [{self.kind: name, "total": total} for name, total in rows]}) + "\n")
            else:
                out.write(f"{self.kind.upper():<{self.column_width}} {'TOTAL_' + label:>11}\n")
                out.writelines(f"{name:<{self.column_width}} {total:>11}\n" for name, total in rows)
        out.flush()
