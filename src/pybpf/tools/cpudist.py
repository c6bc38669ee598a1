"""cpudist: how long tasks run on a CPU before being descheduled, as a histogram (or,
with ``-O``, how long they stay off it) — BCC's cpudist, on the sched_switch raw
tracepoint, tasks read through CO-RE; built on pybpf's own API, histograms through
pybpf.output. Flags as BCC's, with ``-I`` (the idle tasks too, one per CPU) and ``-e``
(average, total and count)."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.latency import LatencyTool

SOURCE = r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } since SEC(".maps");

/* a task's key in `since`: its thread id; the idle tasks (all thread id 0), one per CPU */
static __always_inline u64 since_key(u32 tid)
{
    return tid ? tid : (1ULL << 32) | bpf_get_smp_processor_id();
}

SEC("raw_tracepoint/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *prev = (struct task_struct *)ctx->args[1], *next = (struct task_struct *)ctx->args[2];
    u64 now = bpf_ktime_get_ns();
    /* on-CPU: the time measured ends when a task leaves; off-CPU: when it comes back */
    struct task_struct *ending = OFF_CPU ? next : prev, *starting = OFF_CPU ? prev : next;
    u32 tid = BPF_CORE_READ(starting, pid);
    u64 key = since_key(tid);
    if ((tid || INCLUDE_IDLE) && (!FILTER_PID || BPF_CORE_READ(starting, tgid) == FILTER_PID))
        bpf_map_update_elem(&since, &key, &now, BPF_ANY);
    tid = BPF_CORE_READ(ending, pid);
    key = since_key(tid);
    u64 *start = bpf_map_lookup_elem(&since, &key);
    if (!start)
        return 0;
    u64 delta = now - *start;
    bpf_map_delete_elem(&since, &key);
    hist_add(group_of(BPF_CORE_READ(ending, tgid), tid), delta / UNIT_DIVISOR);
    return 0;
}
LICENSE("GPL");
"""


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-O", "--offcpu", action="store_true", help="measure off-CPU time instead")
    parser.add_argument("-I", "--include-idle", action="store_true", help="include the CPUs' idle tasks (pid 0)")


TOOL = LatencyTool(
    name="cpudist",
    description=DESCRIPTIONS["cpudist"],
    source=SOURCE,
    what="on-CPU time",
    defines=lambda args: {"OFF_CPU": int(args.offcpu), "INCLUDE_IDLE": int(args.include_idle)},
    extra_arguments=_arguments,
    extension=True,
)
