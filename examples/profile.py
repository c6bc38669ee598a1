"""Sample stacks on every CPU at 99 Hz and print the hottest, symbolized, like BCC's
profile (with --folded: one line per stack for flame graph tools).

    sudo python examples/profile.py [--duration SECONDS] [--top N] [--folded]

A perf_event program records the user and kernel stack ids of whatever is running into
a stack trace map and counts them per (pid, stacks); Python names the addresses through
/proc/kallsyms and each process's memory map and ELF symbols.
"""

from __future__ import annotations

import argparse
import sys
import time

import pybpf

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
    if (k.pid == 0)                      /* the idle task */
        return 0;
    k.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    k.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
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


def frames(stacks, stack_id: int) -> list[int]:
    """The addresses of one recorded stack, innermost first (none for a failed id)."""
    if stack_id < 0 or stack_id not in stacks:
        return []
    return [address for address in stacks[stack_id] if address]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds to sample (default 5)")
    parser.add_argument("--frequency", type=int, default=99, help="samples per second per CPU")
    parser.add_argument("--top", type=int, default=10, help="how many stacks to print")
    parser.add_argument("--folded", action="store_true", help="print folded stacks (flame graph input)")
    args = parser.parse_args()
    spec = pybpf.read(SOURCE, name="profile")
    symbolizer = pybpf.symbols.Symbolizer()
    with pybpf.load(spec, engine="kernel") as coll, coll.programs["on_sample"].attach(f"profile:hz:{args.frequency}"):
        try:
            time.sleep(args.duration)
        except KeyboardInterrupt:
            pass
        counts, stacks = coll.maps["counts"], coll.maps["stacks"]
        samples = []
        for key, count in counts.items():            # keys decode through the map's BTF
            names = []
            for address in frames(stacks, key.kernel_stack):
                try:
                    names.append(str(symbolizer.kernel(address)).split(" [")[0])
                except pybpf.symbols.SymbolError:
                    names.append(f"0x{address:x}")
            names += [str(symbolizer.user(key.pid, address)).split(" [")[0]
                      for address in frames(stacks, key.user_stack)]
            process = f"{key.comm} ({key.pid})"
            samples.append((count, process, names))
    samples.sort(key=lambda s: -s[0])
    if args.folded:
        print(pybpf.output.fold((tuple([process, *reversed(names)]), count) for count, process, names in samples), end="")
        return
    for count, process, names in samples[:args.top]:
        print(f"{count:>6}  {process}")
        for name in names:
            print(f"          {name}")
        print()


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
