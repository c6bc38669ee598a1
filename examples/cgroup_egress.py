"""Count the packets and bytes a group of processes sends: a cgroup_skb/egress program on a
cgroup v2 directory made for the command it runs.

    sudo python examples/cgroup_egress.py [--duration SECONDS] [-- COMMAND ...]

Without a command it sends a few UDP datagrams to localhost itself. The cgroup is removed
at the end; the program lets every packet through (returns 1) and only counts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pybpf

SOURCE = r"""
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, u32); __type(value, u64); } totals SEC(".maps");

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
    u32 packets = 0, bytes = 1;
    u64 *p = bpf_map_lookup_elem(&totals, &packets), *b = bpf_map_lookup_elem(&totals, &bytes);
    if (p && b) {
        __sync_fetch_and_add(p, 1);
        __sync_fetch_and_add(b, skb->len);
    }
    return 1;   /* allow */
}
LICENSE("GPL");
"""
DEFAULT_COMMAND = [sys.executable, "-c",
                   "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   "for i in range(10):\n    s.sendto(b'x' * 100, ('127.0.0.1', 9)); time.sleep(0.05)"]


def cgroup2_root() -> Path:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2":
            return Path(fields[1])
    raise SystemExit("cgroup_egress: no cgroup v2 hierarchy is mounted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop counting after this many seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run in the cgroup")
    args = parser.parse_args()
    command = [part for part in args.command if part != "--"] or DEFAULT_COMMAND
    cgroup = cgroup2_root() / f"pybpf-egress-{os.getpid()}"
    cgroup.mkdir()
    try:
        spec = pybpf.read(SOURCE, name="cgroup_egress")
        with pybpf.load(spec, engine="kernel") as coll, coll.programs["count_egress"].attach(f"cgroup:{cgroup}:egress"):
            child = subprocess.Popen(["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$0" "$@"', *command])
            deadline = None if args.duration is None else time.monotonic() + args.duration
            try:
                while child.poll() is None and (deadline is None or time.monotonic() < deadline):
                    time.sleep(0.1)
            except KeyboardInterrupt:
                pass
            if child.poll() is None:
                child.terminate()
            child.wait()
            totals = coll.maps["totals"]
            label = "the built-in sender (10 UDP datagrams)" if command is DEFAULT_COMMAND else shlex.join(command)
            print(f"{label}: {totals[0]} packets, {totals[1]} bytes sent", flush=True)
    finally:
        cgroup.rmdir()


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
