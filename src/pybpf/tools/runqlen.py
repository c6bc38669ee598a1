"""runqlen: how many tasks wait in the CPUs' run queues, sampled — BCC's runqlen, on a
software perf event (cpu-clock) at 99 Hz on every CPU; each sample reads the current
task's CFS run queue length through CO-RE (task->se.cfs_rq->nr_queued, or nr_running on
kernels before 6.14), less the running task, as BCC does. Built on pybpf's own API,
histograms through pybpf.output (BCC's linear layout). Flags as BCC's: ``interval`` and
``count``, ``-T``, ``-O`` run queue occupancy, ``-C`` per CPU."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.csnippets import MAP_ADD
from pybpf.tools.histlayout import add_layout_argument, render
from pybpf.tools.latency import buckets
from pybpf.tools.loading import running
from pybpf.tools.status import interval_arguments, report_intervals

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

FREQUENCY = 99
MAX_LENGTH = 1024            # longer queues count in the last bucket

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""
struct qkey { u32 cpu; u32 length; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct qkey); __type(value, u64); } dist SEC(".maps");

/* the field's name before Linux 6.14 */
struct cfs_rq___old { unsigned int nr_running; } __attribute__((preserve_access_index));

SEC("perf_event")
int on_sample(void *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct cfs_rq *queue = BPF_CORE_READ(task, se.cfs_rq);
    u32 length = 0;
    if (bpf_core_field_exists(queue->nr_queued))
        length = BPF_CORE_READ(queue, nr_queued);
    else
        length = BPF_CORE_READ((struct cfs_rq___old *)queue, nr_running);
    if (length > 0)
        length--;                     /* the running task is not waiting */
    if (length > MAX_LENGTH)
        length = MAX_LENGTH;
    struct qkey key = { .cpu = PER_CPU ? bpf_get_smp_processor_id() : 0, .length = length };
    map_add(&dist, &key, 1);
    return 0;
}
LICENSE("GPL");
"""


class RunqLen:
    """The runqlen tool."""

    name = "runqlen"
    description = DESCRIPTIONS["runqlen"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        interval_arguments(parser)
        parser.add_argument("-O", "--runqocc", action="store_true", help="report run queue occupancy")
        parser.add_argument("-C", "--cpus", action="store_true", help="one report per CPU")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        programflags.add_arguments(parser)
        add_layout_argument(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        with running(SOURCE, name="runqlen", defines={"PER_CPU": int(args.cpus), "MAX_LENGTH": MAX_LENGTH},
                     targets={"on_sample": f"profile:hz:{FREQUENCY}"}, flags=args) as loaded:
            dist = loaded.maps["dist"]
            report_intervals(loaded, args, out, banner="Sampling run queue length... Hit Ctrl-C to end.",
                             report=lambda: self._report(dist, args, out), counted=lambda: sum(dist.values()),
                             what="samples")
        return 0

    def _report(self, dist, args: argparse.Namespace, out: IO[str]) -> None:
        from pybpf.output import Histogram

        per_cpu: dict[int, Histogram] = {}
        for key, count in dist.items():
            per_cpu.setdefault(key.cpu, Histogram(linear=(0, MAX_LENGTH, 1))).add(key.length, count)
        dist.clear()
        occupancy = {cpu: 100 * (1 - hist.counts.get(1, 0) / total) if (total := sum(hist.counts.values())) else 0.0
                     for cpu, hist in per_cpu.items()}
        if args.json:
            label = {"cpu": True} if args.cpus else {}
            out.write(json.dumps({"time": time.time(), "runqlen": [
                {**({"cpu": cpu} if label else {}), "runqocc": round(occupancy[cpu], 2), "buckets": buckets(per_cpu[cpu])}
                for cpu in sorted(per_cpu)]}) + "\n")
            out.flush()
            return
        out.write("\n" + (f"{time.strftime('%H:%M:%S'):<8}\n" if args.timestamp else ""))
        for cpu in sorted(per_cpu):
            if args.runqocc:
                out.write(f"runqocc, CPU {cpu:<3} {occupancy[cpu]:6.2f}%\n" if args.cpus
                          else f"runqocc: {occupancy[cpu]:0.2f}%\n")
            else:
                out.write((f"\ncpu = {cpu}\n" if args.cpus else "") + render(per_cpu[cpu], args, "runqlen"))
        out.flush()


TOOL = RunqLen()
