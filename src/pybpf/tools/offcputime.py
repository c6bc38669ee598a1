"""offcputime: where tasks block — time off CPU summed by stack (BCC's offcputime, on
the sched_switch raw tracepoint; built on pybpf's own API). As a task is switched out its
user and kernel stacks (the ones it blocked in, taken while it is still current) and the
time wait in a map; when it is switched back in the time off CPU is added to its stacks'
total. Output through :mod:`pybpf.tools.stacks`: BCC's stacks with microseconds, ``-f``
folded lines, ``--svg`` a flame graph, ``--json``. Flags as BCC's: ``duration``, ``-p``,
``-t``, ``-u``/``-k``, ``-U``/``-K``, ``-d``, ``-m``/``-M`` microseconds, ``--state``,
``--stack-storage-size``."""

from __future__ import annotations

import argparse
import sys

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.csnippets import MAP_ADD
from pybpf.tools.loading import running
from pybpf.tools.stacks import Stack, add_output_arguments, add_stack_arguments, positive, symbolize, write
from pybpf.tools.status import StatusLine, intervals

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""
struct offcpu_key { u32 pid; u32 tgid; s32 user_stack; s32 kernel_stack; char comm[16]; };
struct offcpu_start { u64 ts; s32 user_stack; s32 kernel_stack; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct offcpu_key); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, struct offcpu_start); } blocked SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(max_entries, STACK_STORAGE); __uint(key_size, 4); __uint(value_size, 127 * 8); } stacks SEC(".maps");

#define PF_KTHREAD 0x00200000

static __always_inline bool wanted(struct task_struct *task)
{
    u32 tid = BPF_CORE_READ(task, pid), tgid = BPF_CORE_READ(task, tgid);
    if (tid == 0)                                            /* the idle task */
        return false;
    if (ONLY_TGID && tgid != ONLY_TGID)
        return false;
    if (ONLY_TID && tid != ONLY_TID)
        return false;
    bool kthread = BPF_CORE_READ(task, flags) & PF_KTHREAD;
    if ((USER_THREADS && kthread) || (KERNEL_THREADS && !kthread))
        return false;
    return true;
}

SEC("raw_tracepoint/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *prev = (struct task_struct *)ctx->args[1], *next = (struct task_struct *)ctx->args[2];
    u64 now = bpf_ktime_get_ns();
    /* prev is still current here: its stacks are where it blocks */
    if (wanted(prev) && (STATE < 0 || BPF_CORE_READ(prev, __state) == STATE)) {
        u32 tid = BPF_CORE_READ(prev, pid);
        struct offcpu_start off = { .ts = now,
                           .user_stack = KERNEL_ONLY ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK),
                           .kernel_stack = USER_ONLY ? -1 : bpf_get_stackid(ctx, &stacks, 0) };
        bpf_map_update_elem(&blocked, &tid, &off, BPF_ANY);
    }
    u32 tid = BPF_CORE_READ(next, pid);
    struct offcpu_start *off = bpf_map_lookup_elem(&blocked, &tid);
    if (!off)
        return 0;
    u64 usecs = (now - off->ts) / 1000;
    struct offcpu_key key = { .pid = tid, .tgid = BPF_CORE_READ(next, tgid),
                       .user_stack = off->user_stack, .kernel_stack = off->kernel_stack };
    bpf_map_delete_elem(&blocked, &tid);
    if (usecs < MIN_US || usecs > MAX_US)
        return 0;
    BPF_CORE_READ_INTO(&key.comm, next, comm);
    map_add(&counts, &key, usecs);
    return 0;
}
LICENSE("GPL");
"""


class OffCpuTime:
    """The offcputime tool."""

    name = "offcputime"
    description = DESCRIPTIONS["offcputime"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("duration", nargs="?", type=float, default=None,
                            help="seconds to trace (default: until Ctrl-C)")
        threads = parser.add_mutually_exclusive_group()
        threads.add_argument("-p", "--pid", type=positive, help="only this process id")
        threads.add_argument("-t", "--tid", type=positive, help="only this thread id")
        threads.add_argument("-u", "--user-threads-only", action="store_true", help="user threads only")
        threads.add_argument("-k", "--kernel-threads-only", action="store_true", help="kernel threads only")
        add_stack_arguments(parser)
        parser.add_argument("-m", "--min-block-time", type=positive, default=1,
                            help="only blocks of at least this many microseconds (default 1)")
        parser.add_argument("-M", "--max-block-time", type=positive, default=(1 << 64) - 1,
                            help="only blocks of at most this many microseconds")
        parser.add_argument("--state", type=int, help="only tasks leaving in this state (e.g. 2, TASK_UNINTERRUPTIBLE)")
        add_output_arguments(parser)
        programflags.add_arguments(parser)

    def stacks(self, args: argparse.Namespace) -> list[Stack]:
        """Off-CPU stacks: (frames root first — comm, user, kernel — microseconds, tid)."""

        defines = {"ONLY_TGID": args.pid or 0, "ONLY_TID": args.tid or 0, "USER_THREADS": int(args.user_threads_only),
                   "KERNEL_THREADS": int(args.kernel_threads_only), "USER_ONLY": int(args.user_stacks_only),
                   "KERNEL_ONLY": int(args.kernel_stacks_only), "MIN_US": args.min_block_time,
                   "MAX_US": args.max_block_time, "STATE": -1 if args.state is None else args.state,
                   "STACK_STORAGE": args.stack_storage_size}
        with running(SOURCE, name="offcputime", defines=defines, flags=args) as loaded:
            counts, stacks = loaded.maps["counts"], loaded.maps["stacks"]
            for _ in intervals(StatusLine(lambda: len(counts), what="stacks"), duration=args.duration):
                pass                    # tracing until the end; the status line counts the stacks
            return symbolize(((key.comm, key.tgid, key.user_stack, key.kernel_stack, usecs)
                              for key, usecs in counts.items()), stacks, delimited=args.delimited)

    @staticmethod
    def banner(args: argparse.Namespace) -> str:
        """BCC's header: which threads, which stacks, and for how long."""
        threads = (f"PID {args.pid}" if args.pid else f"TID {args.tid}" if args.tid else
                   "user threads" if args.user_threads_only else "kernel threads" if args.kernel_threads_only
                   else "all threads")
        stack = "user" if args.user_stacks_only else "kernel" if args.kernel_stacks_only else "user + kernel"
        until = f" for {args.duration:g} secs." if args.duration else "... Hit Ctrl-C to end."
        return f"Tracing off-CPU time (us) of {threads} by {stack} stack{until}"

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        if not args.json and not args.folded and not args.ebpf:
            out.write(self.banner(args) + "\n\n")
            out.flush()
        write(self.stacks(args), args, out, title="off-CPU time", value="usecs")
        return 0


TOOL = OffCpuTime()
