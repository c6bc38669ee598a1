"""syscount: count system calls, by syscall or by process, printed every interval (BCC's
syscount, on the raw_syscalls:sys_exit tracepoint; built on pybpf's own API, counting in
a BPF hash map that Python reads and clears each interval). Flags as BCC's: ``-p PID``,
``-i INTERVAL``, ``-d DURATION``, ``-T TOP``, ``-x`` failed calls only, ``-P`` by process."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import IO

from pybpf.tools.csnippets import MAP_ADD
from pybpf.tools.events import offset
from pybpf.tools.loading import running
from pybpf.tools.status import report_intervals

SOURCE = r"""
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_exit")
int on_exit(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    if (FILTER_PID && (id >> 32) != FILTER_PID)
        return 0;
    if (FAILED_ONLY && *(s64 *)((char *)ctx + RET_OFFSET) >= 0)
        return 0;
    u32 key = BY_PROCESS ? (u32)(id >> 32) : (u32)*(s64 *)((char *)ctx + ID_OFFSET);
    map_add(&counts, &key, 1);
    return 0;
}
LICENSE("GPL");
"""


@lru_cache(maxsize=1)
def syscall_names() -> dict[int, str]:
    """Syscall numbers to names, from the installed kernel headers (x86-64)."""
    for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
        if Path(header).exists():
            return {int(n): name for name, n in re.findall(r"#define __NR_(\w+) (\d+)", Path(header).read_text())}
    return {}


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "[exited]"


class Syscount:
    """The syscount tool."""

    name = "syscount"
    description = "Count system calls by syscall or by process, every interval."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-p", "--pid", type=int, help="only this process id")
        parser.add_argument("-i", "--interval", type=float, help="print every this many seconds (default: at the end)")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("-T", "--top", type=int, default=10, help="print only this many rows (default 10)")
        parser.add_argument("-x", "--failures", action="store_true", help="count only failed calls")
        parser.add_argument("-P", "--process", action="store_true", help="count by process, not by syscall")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        defines = {"FILTER_PID": args.pid or 0, "FAILED_ONLY": int(args.failures), "BY_PROCESS": int(args.process),
                   "ID_OFFSET": offset("raw_syscalls:sys_exit", "id"), "RET_OFFSET": offset("raw_syscalls:sys_exit", "ret")}
        with running(SOURCE, name="syscount", defines=defines) as loaded:
            counts = loaded.maps["counts"]
            report_intervals(loaded, args, out, banner=f"Tracing syscalls, printing top {args.top}... Ctrl-C to end.",
                             report=lambda: self._report(counts, args, out), counted=lambda: sum(counts.values()),
                             what="syscalls")
        return 0

    def _report(self, counts, args: argparse.Namespace, out: IO[str]) -> None:
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:args.top]
        counts.clear()
        names = syscall_names()
        if args.process:
            rows = [{"pid": key, "comm": _comm(key), "count": count} for key, count in top]
        else:
            rows = [{"syscall": names.get(key, str(key)), "nr": key, "count": count} for key, count in top]
        if args.json:
            out.write(json.dumps({"time": time.time(), "rows": rows}) + "\n")
        else:
            out.write(f"[{time.strftime('%H:%M:%S')}]\n")
            if args.process:
                out.write(f"{'PID':<6} {'COMM':<15} {'COUNT':>10}\n")
                out.writelines(f"{r['pid']:<6} {r['comm']:<15} {r['count']:>10}\n" for r in rows)
            else:
                out.write(f"{'SYSCALL':<22} {'COUNT':>8}\n")
                out.writelines(f"{r['syscall']:<22} {r['count']:>8}\n" for r in rows)
            out.write("\n")
        out.flush()


TOOL = Syscount()
