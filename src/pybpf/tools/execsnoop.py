"""execsnoop: trace new programs as they start (BCC's execsnoop, on the
sched:sched_process_exec tracepoint; built on pybpf's own API — a C program compiled by
pybpf.toolchain). Columns: PCOMM PID PPID RET PATH — the file executed, as the kernel
resolved it (BCC prints argv, which the tracepoint does not carry); RET is 0, as only
successful execs reach this tracepoint."""

from __future__ import annotations

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
    e->ret = 0;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    u32 loc = *(u32 *)((char *)ctx + FILENAME_LOCATOR);     /* __data_loc: length << 16 | offset */
    bpf_probe_read_kernel_str(e->path, sizeof(e->path), (char *)ctx + (loc & 0xffff));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

TOOL = EventTool(
    name="execsnoop",
    description="Trace new programs as they start (exec).",
    layout=EventLayout((("pid", "u32"), ("ppid", "u32"), ("ret", "s32"), ("comm", "str:16"), ("path", "str:256"))),
    source=SOURCE,
    columns=(Column("PCOMM", "comm", -16), Column("PID", "pid", -7), Column("PPID", "ppid", -7),
             Column("RET", "ret", 3), Column("PATH", "path", -1)),
    defines=lambda args: {"FILENAME_LOCATOR": offset("sched:sched_process_exec", "filename")},
)
