"""Count system calls by number, printed every second, like BCC's syscount.

    sudo python examples/syscount.py [--duration SECONDS] [--interval SECONDS]

A program on raw_syscalls:sys_enter counts into a hash map keyed by syscall number;
Python prints the busiest ones and clears the map each interval.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import pybpf

SOURCE = r"""
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, u32); __type(value, u64); } counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int on_enter(void *ctx)
{
    u32 nr = *(long *)((char *)ctx + 8);     /* the record's 'id' field */
    u64 one = 1, *count = bpf_map_lookup_elem(&counts, &nr);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(&counts, &nr, &one, BPF_NOEXIST);
    return 0;
}
LICENSE("GPL");
"""


def syscall_names() -> dict[int, str]:
    """Syscall numbers to names from the C library's headers, where they are installed."""
    for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
        if Path(header).exists():
            return {int(n): name for name, n in re.findall(r"#define __NR_(\w+) (\d+)", Path(header).read_text())}
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between reports")
    parser.add_argument("--top", type=int, default=10, help="how many syscalls to show")
    args = parser.parse_args()
    names = syscall_names()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with pybpf.load(pybpf.read(SOURCE, name="syscount"), engine="kernel") as coll, coll.programs["on_enter"].attach():
        counts = coll.maps["counts"]
        print("Tracing syscalls... Ctrl-C to end.", flush=True)
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(args.interval if deadline is None else max(0.0, min(args.interval, deadline - time.monotonic())))
                top = sorted(counts.items(), key=lambda item: -item[1])[:args.top]
                counts.clear()
                print(f"[{time.strftime('%H:%M:%S')}]\n{'SYSCALL':<22} {'COUNT':>10}", flush=True)
                for number, count in top:
                    print(f"{names.get(number, str(number)):<22} {count:>10}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
