"""profile: sample stacks on every CPU at a fixed frequency (BCC's profile, on a
software perf event — cpu-clock; built on pybpf's own API). Counts (pid, user stack,
kernel stack) in a BPF hash map, symbolises kernel frames through /proc/kallsyms and user
frames through each process's maps and ELF symbols. Prints BCC's header (``Sampling at 49
Hertz of all threads by user + kernel stack for 5 secs.``; none with ``-f``, ``--json``)
and the stacks with counts as BCC does,
``-f`` folded lines (``comm;user..;kernel.. count``, BCC's order), ``--svg FILE`` an
interactive flame graph, ``--speedscope FILE`` speedscope JSON, ``--json`` one object per
stack. BCC's ``-p``/``-L`` (process/thread), ``-C CPU``, ``-U``/``-K``, ``-d``, ``-I``, ``-F``/``-c``, ``-a``,
``-A`` (addresses in the multi-line output; in the ``--svg``/``--speedscope`` frames
written beside it too), ``--stack-storage-size``, ``--hash-storage-size``, ``--ebpf``, ``--cgroupmap``,
``--mntnsmap``."""

from __future__ import annotations

import argparse
import os
import sys

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.csnippets import MAP_ADD
from pybpf.tools.events import ToolError
from pybpf.tools.loading import running
from pybpf.tools.stacks import Stack, add_output_arguments, add_stack_arguments, positive, symbolize, write
from pybpf.tools.status import StatusLine, intervals

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

SOURCE = r"""
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""
struct key { u32 pid; s32 user_stack; s32 kernel_stack; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, HASH_STORAGE); __type(key, struct key); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(max_entries, STACK_STORAGE); __uint(key_size, 4); __uint(value_size, 127 * 8); } stacks SEC(".maps");

SEC("perf_event")
int on_sample(void *ctx)
{
    struct key k = {};
    u64 id = bpf_get_current_pid_tgid();
    k.pid = id >> 32;
    if (k.pid == 0 && !INCLUDE_IDLE)
        return 0;
    if ((FILTER_PID && k.pid != FILTER_PID) || (FILTER_TID && (u32)id != FILTER_TID))
        return 0;
    if (FILTER_CPU >= 0 && bpf_get_smp_processor_id() != FILTER_CPU)
        return 0;
    k.user_stack = KERNEL_ONLY ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    k.kernel_stack = USER_ONLY ? -1 : bpf_get_stackid(ctx, &stacks, 0);
    bpf_get_current_comm(k.comm, sizeof(k.comm));
    map_add(&counts, &k, 1);
    return 0;
}
LICENSE("GPL");
"""


class Profile:
    """The profile tool."""

    name = "profile"
    description = DESCRIPTIONS["profile"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("duration", nargs="?", type=float, default=None,
                            help="seconds to sample (default: until Ctrl-C)")
        rate = parser.add_mutually_exclusive_group()
        rate.add_argument("-F", "--frequency", type=int, help="samples per second per CPU (default 49)")
        rate.add_argument("-c", "--count", type=positive, help="sample once every this many ns of CPU time (a period)")
        who = parser.add_mutually_exclusive_group()
        who.add_argument("-p", "--pid", type=positive, help="only this process id")
        who.add_argument("-L", "--tid", type=positive, help="only this thread id")
        parser.add_argument("-C", "--cpu", type=int, help="only this CPU")
        add_stack_arguments(parser)
        parser.add_argument("--hash-storage-size", type=positive, default=40960,
                            help="how many distinct (process, stacks) the counts map holds (default 40960)")
        parser.add_argument("-a", "--annotations", action="store_true", help="add _[k] to kernel frames")
        parser.add_argument("-I", "--include-idle", action="store_true", help="include the idle task")
        parser.add_argument("-A", "--address", action="store_true",
                            help="show each frame's address in the multi-line output")
        add_output_arguments(parser)
        programflags.add_arguments(parser, tasks=True)

    @staticmethod
    def target(args: argparse.Namespace) -> str:
        """The perf event: cpu-clock at -F samples a second (default 49), or every -c ns."""
        return f"software:cpu-clock:{args.count}" if args.count else f"profile:hz:{args.frequency or 49}"

    @staticmethod
    def check(args: argparse.Namespace) -> None:
        """Refuse flags that cannot be honoured, before anything is printed."""
        if args.frequency is not None and args.frequency <= 0:
            raise ToolError(f"-F {args.frequency}: the frequency must be positive")
        if args.cpu is not None and not 0 <= args.cpu < (os.cpu_count() or 1):
            raise ToolError(f"-C {args.cpu}: this machine has CPUs 0 to {(os.cpu_count() or 1) - 1}")

    @staticmethod
    def banner(args: argparse.Namespace) -> str:
        """BCC's header, word for word: the rate, which threads, which stacks, the CPU, and
        for how long (whole seconds, as BCC's ``%d``). BCC's ``-p``/``-L`` take lists of ids
        and print the list as Python shows one (``PID [42]``); so does this header."""
        rate = f"every {args.count} events" if args.count else f"{args.frequency or 49} Hertz"
        threads = f"PID [{args.pid}]" if args.pid else f"TID [{args.tid}]" if args.tid else "all threads"
        stack = "user" if args.user_stacks_only else "kernel" if args.kernel_stacks_only else "user + kernel"
        cpu = f" on CPU#{args.cpu}" if args.cpu is not None else ""
        until = f" for {int(args.duration)} secs." if args.duration is not None else "... Hit Ctrl-C to end."
        return f"Sampling at {rate} of {threads} by {stack} stack{cpu}{until}"

    def stacks(self, args: argparse.Namespace) -> list[Stack]:
        """Sampled stacks: (frames root first — comm, user, kernel — count, pid)."""
        self.check(args)
        defines = {"FILTER_PID": args.pid or 0, "FILTER_TID": args.tid or 0,
                   "FILTER_CPU": -1 if args.cpu is None else args.cpu, "USER_ONLY": int(args.user_stacks_only),
                   "KERNEL_ONLY": int(args.kernel_stacks_only), "INCLUDE_IDLE": int(args.include_idle),
                   "STACK_STORAGE": args.stack_storage_size, "HASH_STORAGE": args.hash_storage_size}
        with running(SOURCE, name="profile", defines=defines,
                     targets={"on_sample": self.target(args)}, flags=args) as loaded:
            counts, stacks = loaded.maps["counts"], loaded.maps["stacks"]
            for _ in intervals(StatusLine(lambda: sum(counts.values()), what="samples"), duration=args.duration):
                pass                    # sampling until the end; the status line counts the samples
            return symbolize(((key.comm, key.pid, key.user_stack, key.kernel_stack, count)
                              for key, count in counts.items()), stacks, delimited=args.delimited,
                             annotated=args.annotations,
                             addressed=args.address and not args.folded and not args.json)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        self.check(args)
        header = not args.json and not args.folded and not args.ebpf     # BCC prints none with -f
        if header:
            out.write(self.banner(args) + "\n")
            out.flush()
        found = self.stacks(args)
        if header:
            out.write("\n")              # BCC's blank line once sampling ends, samples or not
        title = f"profile every {args.count} ns" if args.count else f"profile at {args.frequency or 49} Hz"
        write(found, args, out, title=title, value="count")
        return 0


TOOL = Profile()
