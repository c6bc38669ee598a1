"""runqlat: run queue (scheduler) latency as a histogram — the time from a task being
woken (or preempted while runnable) to running on a CPU (BCC's runqlat, on the
sched_wakeup, sched_wakeup_new and sched_switch raw tracepoints, reading the tasks through
CO-RE; built on pybpf's own
API, histograms through pybpf.output). BCC's ``--pidnss``: a histogram per PID namespace
(the inode number of the task's namespace for children, as BCC)."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import ToolError
from pybpf.tools.latency import LatencyTool

SOURCE = r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } queued SEC(".maps");

static __always_inline int enqueue(struct task_struct *task)
{
    u32 tid = BPF_CORE_READ(task, pid);
    u64 now = bpf_ktime_get_ns();
    if (tid && (!FILTER_PID || BPF_CORE_READ(task, tgid) == FILTER_PID))
        bpf_map_update_elem(&queued, &tid, &now, BPF_ANY);
    return 0;
}

SEC("raw_tracepoint/sched_wakeup")
int on_wakeup(struct bpf_raw_tracepoint_args *ctx) { return enqueue((struct task_struct *)ctx->args[0]); }

SEC("raw_tracepoint/sched_wakeup_new")
int on_wakeup_new(struct bpf_raw_tracepoint_args *ctx) { return enqueue((struct task_struct *)ctx->args[0]); }

SEC("raw_tracepoint/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *prev = (struct task_struct *)ctx->args[1], *next = (struct task_struct *)ctx->args[2];
    if (BPF_CORE_READ(prev, __state) == 0)                /* preempted while runnable: queued again */
        enqueue(prev);
    u32 tid = BPF_CORE_READ(next, pid);
    u64 *since = bpf_map_lookup_elem(&queued, &tid);
    if (!since)
        return 0;
    u64 delta = bpf_ktime_get_ns() - *since;
    bpf_map_delete_elem(&queued, &tid);
    u32 group = PER_PIDNS ? BPF_CORE_READ(next, nsproxy, pid_ns_for_children, ns.inum)
                          : group_of(BPF_CORE_READ(next, tgid), tid);
    hist_add(group, delta / UNIT_DIVISOR);
    return 0;
}
LICENSE("GPL");
"""

def _defines(args: argparse.Namespace) -> dict[str, int]:
    if args.pidnss and (args.pids or args.tids):
        raise ToolError("--pidnss groups by PID namespace: it goes without -P and -L")
    return {"PER_PIDNS": int(args.pidnss)}


TOOL = LatencyTool(
    name="runqlat",
    description=DESCRIPTIONS["runqlat"],
    source=SOURCE,
    what="run queue latency",
    defines=_defines,
    extra_arguments=lambda parser: parser.add_argument("--pidnss", action="store_true",
                                                       help="one histogram per PID namespace"),
)
