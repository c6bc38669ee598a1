"""syscount: count system calls, by syscall or by process, printed every interval (BCC's
syscount, on the raw_syscalls:sys_exit tracepoint — and sys_enter for ``-L`` latency;
built on pybpf's own API, counting in BPF hash maps that Python reads and clears each
interval). Flags as BCC's: ``-p PID``, ``-t TID``, ``-c PPID`` (children of), ``-i
INTERVAL``, ``-d DURATION``, ``-T TOP``, ``-x`` failed calls only, ``-e ERRNO`` calls
failing with that error, ``-L`` total time per row (``-m`` in milliseconds), ``-P`` by
process, ``-l`` list the syscall names, ``--syscall NAME`` that call only, ``--exec
COMMAND...`` (run it, held before exec until the program is attached; count its calls until
it exits)."""

from __future__ import annotations

import argparse
import errno
import itertools
import json
import os
import re
import sys
import time
from functools import lru_cache

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.csnippets import MAP_ADD
from pybpf.tools.events import ToolError, offset
from pybpf.tools.loading import running
from pybpf.tools.status import report_intervals
from pybpf.tools.traced import held_command

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

#: the filters both programs apply (pid, thread, parent, syscall), and -L's map
FILTERS = r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } start SEC(".maps");
static __always_inline int unwanted(void *ctx, u64 id)
{
    if (FILTER_PID && (id >> 32) != FILTER_PID)
        return 1;
    if (FILTER_TID && (u32)id != FILTER_TID)
        return 1;
    if (FILTER_PPID) {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        if (BPF_CORE_READ(task, real_parent, tgid) != FILTER_PPID)
            return 1;
    }
    if (FILTER_SYSCALL >= 0 && *(s64 *)((char *)ctx + ID_OFFSET) != FILTER_SYSCALL)
        return 1;
    return 0;
}
"""

#: -L: when each thread's current syscall began (in ``start``)
ENTER = r"""
SEC("tracepoint/raw_syscalls/sys_enter")
int on_enter(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
    if (!unwanted(ctx, id))
        bpf_map_update_elem(&start, &id, &now, BPF_ANY);
    return 0;
}
"""

EXIT = r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } times SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_exit")
int on_exit(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    if (unwanted(ctx, id))
        return 0;
    s64 ret = *(s64 *)((char *)ctx + RET_OFFSET);
    if ((FAILED_ONLY && ret >= 0) || (FILTER_ERRNO && ret != -FILTER_ERRNO))
        return 0;
    u32 key = BY_PROCESS ? (u32)(id >> 32) : (u32)*(s64 *)((char *)ctx + ID_OFFSET);
    if (LATENCY) {
        u64 *began = bpf_map_lookup_elem(&start, &id);
        if (!began)
            return 0;
        map_add(&times, &key, bpf_ktime_get_ns() - *began);
        bpf_map_delete_elem(&start, &id);
    }
    map_add(&counts, &key, 1);
    return 0;
}
LICENSE("GPL");
"""


def source(latency: bool) -> str:
    """The C program: sys_exit counts (and sums the time since sys_enter with -L)."""
    return ("#include <vmlinux.h>\n#include <pybpf/bpf.h>\n" + MAP_ADD + FILTERS + (ENTER if latency else "")
            + EXIT)


@lru_cache(maxsize=1)
def syscall_names() -> dict[int, str]:
    """Syscall numbers to names, from the installed kernel headers (x86-64)."""
    for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
        if os.path.exists(header):
            with open(header) as file:
                return {int(n): name for name, n in re.findall(r"#define __NR_(\w+) (\d+)", file.read())}
    return {}


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as file:
            return file.read().strip()
    except OSError:
        return "[exited]"


def errno_number(text: str) -> int:
    """An argparse type: an errno as a number or a name (``EPERM``), as BCC's ``-e``."""
    if text.lstrip("-").isdigit():
        return abs(int(text))
    if isinstance(getattr(errno, text, None), int):
        return getattr(errno, text)
    raise argparse.ArgumentTypeError(f"{text!r} is neither an errno number nor a name such as EPERM")


class Syscount:
    """The syscount tool."""

    name = "syscount"
    description = DESCRIPTIONS["syscount"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        who = parser.add_mutually_exclusive_group()
        who.add_argument("-p", "--pid", type=int, help="only this process id")
        who.add_argument("-t", "--tid", type=int, help="only this thread id")
        who.add_argument("-c", "--ppid", type=int, help="only children of this process id")
        parser.add_argument("-i", "--interval", type=float, help="print every this many seconds (default: at the end)")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("-T", "--top", type=int, default=10, help="print only this many rows (default 10)")
        parser.add_argument("-x", "--failures", action="store_true", help="count only failed calls")
        parser.add_argument("-e", "--errno", type=errno_number,
                            help="count only calls failing with this error (number or name, e.g. EPERM)")
        parser.add_argument("-L", "--latency", action="store_true", help="also the time spent in the calls")
        parser.add_argument("-m", "--milliseconds", action="store_true", help="times in milliseconds (default µs)")
        parser.add_argument("-P", "--process", action="store_true", help="count by process, not by syscall")
        parser.add_argument("-l", "--list", action="store_true", help="print the known syscall names and exit")
        parser.add_argument("--syscall", help="count only this syscall (names: -l)")
        parser.add_argument("--exec", nargs=argparse.REMAINDER,
                            help="run this command (the rest of the line), count its syscalls until it exits")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        programflags.add_arguments(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        names = syscall_names()
        if args.list:
            ordered = sorted(names.values())
            for row in itertools.zip_longest(*[iter(ordered)] * 4):
                out.write("   ".join(f"{name:<22}" for name in row if name is not None).rstrip() + "\n")
            return 0
        numbers = {name: nr for nr, name in names.items()}
        if args.exec is not None and (not args.exec or args.pid or args.tid or args.ppid):
            raise ToolError("--exec takes a command, and goes without -p, -t and -c")
        if args.syscall is not None and args.syscall not in numbers:
            raise ToolError(f"--syscall {args.syscall}: no such syscall (`pybpf tool syscount -l` lists them)")
        defines = {"FILTER_PID": args.pid or 0, "FILTER_TID": args.tid or 0, "FILTER_PPID": args.ppid or 0,
                   "FILTER_SYSCALL": -1 if args.syscall is None else numbers[args.syscall],
                   "FAILED_ONLY": int(args.failures), "FILTER_ERRNO": args.errno or 0,
                   "LATENCY": int(args.latency), "BY_PROCESS": int(args.process),
                   "ID_OFFSET": offset("raw_syscalls:sys_exit", "id"), "RET_OFFSET": offset("raw_syscalls:sys_exit", "ret")}
        failed = "failed " if args.failures else ""
        banner = (f"Tracing {failed}syscall '{args.syscall}'... Ctrl-C to end." if args.syscall is not None
                  else f"Tracing {failed}syscalls, printing top {args.top}... Ctrl-C to end.")
        child = held_command(args.exec) if args.exec else None
        try:
            if child is not None:
                defines["FILTER_PID"] = child.pid
            with running(source(args.latency), name="syscount", defines=defines, flags=args) as loaded:
                counts, times = loaded.maps["counts"], loaded.maps["times"]
                if child is not None:
                    child.release()
                report_intervals(loaded, args, out, banner=banner, report=lambda: self._report(counts, times, args, out),
                                 counted=lambda: sum(counts.values()), what="syscalls",
                                 until=child.exited if child is not None else None)
        finally:
            if child is not None:
                child.stop()
        return 0

    def _report(self, counts, times, args: argparse.Namespace, out: IO[str]) -> None:
        counted, spent = dict(counts.items()), dict(times.items()) if args.latency else {}
        counts.clear()
        times.clear()
        order = (lambda key: (-spent.get(key, 0), key)) if args.latency else (lambda key: (-counted[key], key))
        top = sorted(counted, key=order)[:args.top]
        names = syscall_names()
        rows: list[dict] = [{"pid": key, "comm": _comm(key)} if args.process else {"syscall": names.get(key, str(key)), "nr": key}
                            for key in top]
        for row, key in zip(rows, top):
            row["count"] = counted[key]
            if args.latency:
                row["total_ns"] = spent.get(key, 0)
        if args.json:
            out.write(json.dumps({"time": time.time(), "rows": rows}) + "\n")
            out.flush()
            return
        unit, divisor, digits = ("ms", 1e6, 6) if args.milliseconds else ("us", 1e3, 3)
        extra = f" {f'TIME ({unit})':>16}" if args.latency else ""
        out.write(f"[{time.strftime('%H:%M:%S')}]\n")
        out.write((f"{'PID':<6} {'COMM':<15}" if args.process else f"{'SYSCALL':<22}") + f" {'COUNT':>8}{extra}\n")
        for row in rows:
            label = f"{row['pid']:<6} {row['comm']:<15}" if args.process else f"{row['syscall']:<22}"
            spent_text = f" {row['total_ns'] / divisor:>16.{digits}f}" if args.latency else ""
            out.write(f"{label} {row['count']:>8}{spent_text}\n")
        out.write("\n")
        out.flush()


TOOL = Syscount()
