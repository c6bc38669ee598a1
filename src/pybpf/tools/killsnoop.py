"""killsnoop: trace signals sent with kill() (BCC's killsnoop, on the
syscalls:sys_enter_kill and sys_exit_kill tracepoints; built on pybpf's own API).
Columns as BCC's: TIME PID COMM SIG TPID RESULT, the pid columns as wide as the largest pid
(/proc/sys/kernel/pid_max) and a blank. BCC's ``-s SIGNALS`` (numbers or names,
comma-separated) and its ``-T TPID`` as ``--tpid`` (``-T`` is the shared time column flag
here, already shown)."""

from __future__ import annotations

import argparse
import signal

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
struct args { s64 tpid; s64 sig; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, struct args); } calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_kill")
int on_enter(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    struct args a = { .tpid = *(s64 *)((char *)ctx + PID_OFFSET), .sig = *(s64 *)((char *)ctx + SIG_OFFSET) };
    bpf_map_update_elem(&calls, &id, &a, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_kill")
int on_exit(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    struct args *a = bpf_map_lookup_elem(&calls, &id);
    if (!a)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->ts = bpf_ktime_get_ns();
        e->pid = id >> 32;
        e->tpid = (s32)a->tpid;
        e->sig = (s32)a->sig;
        e->ret = *(s64 *)((char *)ctx + RET_OFFSET);
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&calls, &id);
    return 0;
}
LICENSE("GPL");
"""

def signals(text: str) -> frozenset[int]:
    """An argparse type: signals by number or name (``9,TERM,SIGUSR1``), as BCC's ``-s``."""
    found = set()
    for part in text.split(","):
        name = part.strip().upper()
        if name.isdigit():
            found.add(int(name))
        elif isinstance(getattr(signal, name if name.startswith("SIG") else "SIG" + name, None), signal.Signals):
            found.add(int(getattr(signal, name if name.startswith("SIG") else "SIG" + name)))
        else:
            raise argparse.ArgumentTypeError(f"{part!r} is not a signal (a number, or a name such as TERM or SIGKILL)")
    return frozenset(found)


def _pid_width() -> int:
    """BCC's pid column width: the digits of the largest pid, plus one."""
    try:
        with open("/proc/sys/kernel/pid_max") as pid_max:
            return len(pid_max.read().strip()) + 1
    except OSError:
        return 7


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    width = _pid_width()
    return ((*(() if args.time else (Column("TIME", "_clock", -9),)), Column("PID", "pid", -width),
             Column("COMM", "comm", -16), Column("SIG", "sig", -4), Column("TPID", "tpid", -width),
             Column("RESULT", "ret", -1)))


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tpid", type=int, help="only signals sent to this process id (BCC's -T)")
    parser.add_argument("-s", "--signal", type=signals, help="only these signals (comma-separated numbers or names)")


TOOL = EventTool(
    name="killsnoop",
    description=DESCRIPTIONS["killsnoop"],
    layout=EventLayout((("pid", "u32"), ("tpid", "s32"), ("sig", "s32"), ("ret", "s64"), ("comm", "str:16"))),
    source=SOURCE,
    columns=_columns,
    defines=lambda args: {"PID_OFFSET": offset("syscalls:sys_enter_kill", "pid"),
                          "SIG_OFFSET": offset("syscalls:sys_enter_kill", "sig"),
                          "RET_OFFSET": offset("syscalls:sys_exit_kill", "ret")},
    failed=lambda event: event["ret"] < 0,
    keep=lambda args, event: ((args.tpid is None or event["tpid"] == args.tpid)
                              and (args.signal is None or event["sig"] in args.signal)),
    extra_arguments=_arguments,
)
