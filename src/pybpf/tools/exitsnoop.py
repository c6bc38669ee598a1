"""exitsnoop: trace processes as they exit (BCC's exitsnoop, on the
sched:sched_process_exit tracepoint; built on pybpf's own API, the parent, start time and
exit code read from the task through CO-RE). Columns: PCOMM PID PPID TID AGE(s) EXIT_CODE
(as BCC's: ``0``, ``code N`` or ``signal N (NAME)``); only whole processes (the last
thread) unless ``--per-thread``."""

from __future__ import annotations

import argparse
import signal

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
    if (!PER_THREAD && !*(u8 *)((char *)ctx + GROUP_DEAD_OFFSET))
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->exit_code = BPF_CORE_READ(task, exit_code);
    e->age_ns = e->ts - BPF_CORE_READ(task, start_time);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""


def _derive(event: dict) -> None:
    code = event["exit_code"]
    event["age"] = f"{event['age_ns'] / 1e9:.2f}"
    if code & 0x7F:
        name = signal.Signals(code & 0x7F).name if code & 0x7F in signal.Signals._value2member_map_ else str(code & 0x7F)
        event["exit"] = f"signal {code & 0x7F} ({name})" + (", core dumped" if code & 0x80 else "")
    else:
        event["exit"] = "0" if code >> 8 == 0 else f"code {code >> 8}"      # BCC's words


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--per-thread", action="store_true", help="trace every thread's exit, not only processes'")


TOOL = EventTool(
    name="exitsnoop",
    description=DESCRIPTIONS["exitsnoop"],
    layout=EventLayout((("pid", "u32"), ("tid", "u32"), ("ppid", "u32"), ("exit_code", "s32"), ("age_ns", "u64"),
                        ("comm", "str:16"))),
    source=SOURCE,
    columns=(Column("PCOMM", "comm", -16), Column("PID", "pid", -7), Column("PPID", "ppid", -7),
             Column("TID", "tid", -7), Column("AGE(s)", "age", -7), Column("EXIT_CODE", "exit", -1)),
    defines=lambda args: {"GROUP_DEAD_OFFSET": offset("sched:sched_process_exit", "group_dead"), "PER_THREAD": int(args.per_thread)},
    derive=_derive,
    failed=lambda event: event["exit_code"] != 0,
    extra_arguments=_arguments,
)
