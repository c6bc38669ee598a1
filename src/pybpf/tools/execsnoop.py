"""execsnoop: trace new programs as they start (BCC's execsnoop, on the
sched:sched_process_exec tracepoint; built on pybpf's own API — a C program compiled by
pybpf.toolchain). Columns: COMM PID PPID RET PATH — the file executed, as the kernel
resolved it (BCC prints argv, which the tracepoint does not carry); RET is 0, as only
successful execs reach this tracepoint. BCC's ``-P PPID``, ``-U``/``-u UID``, ``-M``
(the parent's command) and ``-C`` (CPU) too."""

from __future__ import annotations

import argparse

from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->uid = bpf_get_current_uid_gid();
    e->cpu = bpf_get_smp_processor_id();
    BPF_CORE_READ_INTO(&e->pcomm, task, real_parent, comm);
    e->ret = 0;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    u32 loc = *(u32 *)((char *)ctx + FILENAME_LOCATOR);     /* __data_loc: length << 16 | offset */
    bpf_probe_read_kernel_str(e->path, sizeof(e->path), (char *)ctx + (loc & 0xffff));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--ppid", type=int, help="only children of this process id")
    parser.add_argument("-M", "--print-pcomm", action="store_true", help="include the parent's command (PCOMM)")
    parser.add_argument("-C", "--print-cpu", action="store_true", help="include a CPU column")


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("COMM", "comm", -16), Column("PID", "pid", -7),
            *((Column("PCOMM", "pcomm", -16),) if args.print_pcomm else ()), Column("PPID", "ppid", -7),
            *((Column("CPU", "cpu", -4),) if args.print_cpu else ()), Column("RET", "ret", 3), Column("PATH", "path", -1))


TOOL = EventTool(
    name="execsnoop",
    description="Trace new programs as they start (exec).",
    layout=EventLayout((("pid", "u32"), ("ppid", "u32"), ("uid", "u32"), ("cpu", "u32"), ("ret", "s32"),
                        ("comm", "str:16"), ("pcomm", "str:16"), ("path", "str:256"))),
    source=SOURCE,
    columns=_columns,
    defines=lambda args: {"FILENAME_LOCATOR": offset("sched:sched_process_exec", "filename")},
    keep=lambda args, event: args.ppid is None or event["ppid"] == args.ppid,
    extra_arguments=_arguments,
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)
