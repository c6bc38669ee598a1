"""Histogram tools' shared machinery (runqlat, cpudist): a BPF program adds to a hash map
``hist`` keyed by ``struct hkey { u32 group; u32 slot; }`` — ``slot`` is bpftrace's log2
bucket index, computed by ``log2_slot()`` as :func:`pybpf.output.log2_bucket` does — and
Python reads it every interval into :class:`pybpf.output.Histogram` objects, printed in
BCC's layout or as JSON. Flags as BCC's: ``interval`` and ``count`` positionals, ``-T``
timestamps, ``-m`` milliseconds, ``-P`` per process, ``-L`` per thread, ``-p PID``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping

from pybpf.tools import programflags
from pybpf.tools.csnippets import LOG2_SLOT, MAP_ADD
from pybpf.tools.histlayout import add_layout_argument, render
from pybpf.tools.loading import running
from pybpf.tools.status import interval_arguments, report_intervals

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import IO
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: C the latency tools share: the histogram and sums maps, ``hist_add`` and ``group_of``
HEADER = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""struct hkey { u32 group; u32 slot; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct hkey); __type(value, u64); } hist SEC(".maps");
/* -e: the sum and number of all values (key 0) */
struct sums { u64 total; u64 count; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, u32); __type(value, struct sums); } sums SEC(".maps");
""" + LOG2_SLOT + r"""

static __always_inline void hist_add(u32 group, u64 value)
{
    struct hkey key = { .group = group, .slot = log2_slot(value) };
    map_add(&hist, &key, 1);
    if (EXTENSION) {
        u32 zero = 0;
        struct sums first = { .total = value, .count = 1 }, *sum = bpf_map_lookup_elem(&sums, &zero);
        if (sum) {
            __sync_fetch_and_add(&sum->total, value);
            __sync_fetch_and_add(&sum->count, 1);
        } else {
            bpf_map_update_elem(&sums, &zero, &first, BPF_NOEXIST);
        }
    }
}

/* the histogram's group of the current task: 0, or its pid (-P) or thread id (-L) */
static __always_inline u32 group_of(u32 pid, u32 tid)
{
    return PER_PROCESS ? pid : PER_THREAD ? tid : 0;
}
"""


def buckets(histogram) -> list[dict]:
    """A histogram's populated buckets for JSON: ``{"low", "high", "count"}`` each."""
    return [{"low": low, "high": high, "count": count} for low, high, count in histogram.ranges()]


@dataclass(frozen=True)
class LatencyTool:
    """A tool printing log2 histograms of a time measured by ``source``; times reach
    ``hist_add`` in nanoseconds divided by ``UNIT_DIVISOR`` (a define)."""

    name: str
    description: str
    source: str
    what: str                                  # "run queue latency", for the status line
    defines: Callable[[argparse.Namespace], Mapping[str, int]] = lambda args: {}
    extra_arguments: Callable[[argparse.ArgumentParser], object] = lambda parser: None
    #: tools whose groups are not tasks (biolatency: disks, I/O flags) leave out -P/-L/-p
    #: and say what a group is: (label, the group's printed name) or None for one histogram
    grouping: Callable[[argparse.Namespace], tuple[str, Callable[[int], object]] | None] | None = None
    extension: bool = False                    # BCC's -e: the average, total and count too
    json_flags: tuple[str, ...] = ("--json",)  # biolatency's BCC has -j too

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        interval_arguments(parser)
        parser.add_argument("-m", "--milliseconds", action="store_true", help="milliseconds (default microseconds)")
        if self.grouping is None:
            group = parser.add_mutually_exclusive_group()
            group.add_argument("-P", "--pids", action="store_true", help="one histogram per process")
            group.add_argument("-L", "--tids", action="store_true", help="one histogram per thread")
            parser.add_argument("-p", "--pid", type=int, help="only this process id")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument(*self.json_flags, dest="json", action="store_true", help="one JSON object per interval")
        if self.extension:
            parser.add_argument("-e", "--extension", action="store_true", help="also the average, total and count")
        programflags.add_arguments(parser)
        add_layout_argument(parser)
        self.extra_arguments(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        defines = {"UNIT_DIVISOR": 1_000_000 if args.milliseconds else 1000,
                   "PER_PROCESS": int(getattr(args, "pids", False)), "PER_THREAD": int(getattr(args, "tids", False)),
                   "FILTER_PID": getattr(args, "pid", None) or 0, "EXTENSION": int(getattr(args, "extension", False)),
                   **self.defines(args)}
        unit = "msecs" if args.milliseconds else "usecs"
        with running(HEADER + self.source, name=self.name, defines=defines, flags=args) as loaded:
            hist, sums = loaded.maps["hist"], loaded.maps["sums"]
            report_intervals(loaded, args, out, banner=f"Tracing {self.what}... Hit Ctrl-C to end.",
                             report=lambda: self._report(hist, args, unit, out, sums), counted=lambda: sum(hist.values()))
        return 0

    def _report(self, hist_map, args: argparse.Namespace, unit: str, out: IO[str], sums_map) -> None:
        from pybpf.output import Histogram

        groups: dict[int, Histogram] = {}
        for key, count in hist_map.items():
            groups.setdefault(key.group, Histogram()).counts[key.slot] = count
        hist_map.clear()
        sums = next(iter(sums_map.values()), None) if getattr(args, "extension", False) else None
        sums_map.clear()
        summary = {"avg": sums.total // sums.count, "total": sums.total, "count": sums.count} if sums and sums.count else {}
        if self.grouping is None:
            label = ("pidns" if getattr(args, "pidnss", False) else "pid" if args.pids else "tid" if args.tids
                     else None)
            name: Callable[[int], object] = int
        else:
            label, name = self.grouping(args) or (None, int)
        if args.json:
            out.write(json.dumps({"time": time.time(), "unit": unit, "histograms": [
                {**({label: name(group)} if label else {}), "buckets": buckets(groups[group])}
                for group in sorted(groups)], **summary}) + "\n")
        else:
            # as BCC: a blank line, the time, then each histogram (a section line before each)
            out.write("\n" + (f"{time.strftime('%H:%M:%S'):<8}\n" if args.timestamp else ""))
            for group in sorted(groups):
                if label:
                    out.write(f"\n{label} = {name(group)}\n")
                out.write(render(groups[group], args, unit))
            if summary:
                out.write(f"\navg = {summary['avg']} {unit}, total: {summary['total']} {unit}, count: {summary['count']}\n\n")
        out.flush()
