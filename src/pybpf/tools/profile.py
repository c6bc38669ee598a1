"""profile: sample stacks on every CPU at a fixed frequency (BCC's profile, on a
software perf event — cpu-clock; built on pybpf's own API). Counts (pid, user stack,
kernel stack) in a BPF hash map, symbolises kernel frames through /proc/kallsyms and user
frames through each process's maps and ELF symbols. Prints stacks with counts as BCC does,
``-f`` folded lines (``comm;user..;kernel.. count``, BCC's order), ``--svg FILE`` an
interactive flame graph, ``--speedscope FILE`` speedscope JSON, ``--json`` one object per
stack."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import IO

from pybpf.tools.status import StatusLine, intervals

SOURCE = r"""
#include <pybpf/bpf.h>

struct key { u32 pid; s32 user_stack; s32 kernel_stack; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct key); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(max_entries, 16384); __uint(key_size, 4); __uint(value_size, 127 * 8); } stacks SEC(".maps");

SEC("perf_event")
int on_sample(void *ctx)
{
    struct key k = {};
    k.pid = bpf_get_current_pid_tgid() >> 32;
    if (k.pid == 0 && !INCLUDE_IDLE)
        return 0;
    if (FILTER_PID && k.pid != FILTER_PID)
        return 0;
    k.user_stack = KERNEL_ONLY ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    k.kernel_stack = USER_ONLY ? -1 : bpf_get_stackid(ctx, &stacks, 0);
    bpf_get_current_comm(k.comm, sizeof(k.comm));
    u64 one = 1, *count = bpf_map_lookup_elem(&counts, &k);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST);
    return 0;
}
LICENSE("GPL");
"""


def _addresses(stacks, stack_id: int) -> list[int]:
    """One recorded stack's addresses, innermost first (none for a failed id)."""
    if stack_id < 0 or stack_id not in stacks:
        return []
    return [address for address in stacks[stack_id] if address]


class Profile:
    """The profile tool."""

    name = "profile"
    description = "Sample stack traces at a timed interval (CPU profile, flame graphs)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("duration", nargs="?", type=float, default=None,
                            help="seconds to sample (default: until Ctrl-C)")
        parser.add_argument("-F", "--frequency", type=int, default=49, help="samples per second per CPU (default 49)")
        parser.add_argument("-p", "--pid", type=int, help="only this process id")
        only = parser.add_mutually_exclusive_group()
        only.add_argument("-U", "--user-stacks-only", action="store_true", help="only user stacks")
        only.add_argument("-K", "--kernel-stacks-only", action="store_true", help="only kernel stacks")
        parser.add_argument("-I", "--include-idle", action="store_true", help="include the idle task")
        parser.add_argument("-f", "--folded", action="store_true", help="print folded stacks (flame graph input)")
        parser.add_argument("--svg", metavar="FILE", help="also write an interactive flame graph here")
        parser.add_argument("--speedscope", metavar="FILE", help="also write speedscope JSON here")
        parser.add_argument("--json", action="store_true", help="one JSON object per stack")

    def stacks(self, args: argparse.Namespace) -> list[tuple[tuple[str, ...], int, int]]:
        """Sampled stacks: (frames root first — comm, user, kernel — count, pid)."""
        from pybpf.engine import load
        from pybpf.kernel.attach import attach
        from pybpf.object.elf import load_object
        from pybpf.symbols import SymbolError, Symbolizer
        from pybpf.toolchain import compile_c

        if args.frequency <= 0:
            from pybpf.tools.events import ToolError

            raise ToolError(f"-F {args.frequency}: the frequency must be positive")
        defines = {"FILTER_PID": args.pid or 0, "USER_ONLY": int(args.user_stacks_only),
                   "KERNEL_ONLY": int(args.kernel_stacks_only), "INCLUDE_IDLE": int(args.include_idle)}
        spec = load_object(compile_c(SOURCE, defines=defines), name="profile")
        symbolizer = Symbolizer()
        found: Counter[tuple[tuple[str, ...], int]] = Counter()
        with load(spec, engine="kernel") as loaded, attach(loaded.programs["on_sample"], f"profile:hz:{args.frequency}"):
            counts, stacks = loaded.maps["counts"], loaded.maps["stacks"]
            for _ in intervals(StatusLine(lambda: sum(counts.values()), what="samples"), duration=args.duration):
                pass                    # sampling until the end; the status line counts the samples
            for key, count in counts.items():
                kernel = []
                for address in _addresses(stacks, key.kernel_stack):
                    try:
                        kernel.append(str(symbolizer.kernel(address)).split(" [")[0].split("+")[0])
                    except SymbolError:
                        kernel.append(f"0x{address:x}")
                user = [str(symbolizer.user(key.pid, address)).split(" [")[0].split("+")[0]
                        for address in _addresses(stacks, key.user_stack)]
                frames = (key.comm, *reversed(user), *reversed(kernel))
                found[frames, key.pid] += count        # stacks differing only in offsets merge
        return sorted(((frames, count, pid) for (frames, pid), count in found.items()), key=lambda s: (-s[1], s[0]))

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        from pybpf.output import fold, speedscope, svg

        samples = self.stacks(args)
        weighted = [(frames, count) for frames, count, _ in samples]
        if args.svg:
            with open(args.svg, "w") as file:
                file.write(svg(weighted, title=f"profile at {args.frequency} Hz"))
        if args.speedscope:
            with open(args.speedscope, "w") as file:
                file.write(speedscope(weighted, name="pybpf profile"))
        if args.json:
            out.writelines(json.dumps({"pid": pid, "comm": frames[0], "stack": list(frames[1:]), "count": count}) + "\n"
                           for frames, count, pid in samples)
        elif args.folded:
            out.write(fold(weighted))
        else:
            for frames, count, pid in samples:
                out.writelines(f"    {frame}\n" for frame in reversed(frames[1:]))
                out.write(f"    -                {frames[0]} ({pid})\n        {count}\n\n")
        return 0


TOOL = Profile()
