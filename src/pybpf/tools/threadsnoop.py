"""threadsnoop: trace new threads as they are created (BCC's threadsnoop traces
pthread_create with a uprobe; this one uses the task:task_newtask tracepoint, keeping
clones with CLONE_THREAD, so it sees threads of every runtime, not only libpthread's;
built on pybpf's own API). Columns: PID COMM TID — the creating process and command, and
the new thread's id (BCC's FUNC, the start routine, is not known at this tracepoint)."""

from __future__ import annotations

from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
SEC("tracepoint/task/task_newtask")
int on_newtask(void *ctx)
{
    if (!(*(u64 *)((char *)ctx + FLAGS_OFFSET) & 0x00010000 /* CLONE_THREAD */))
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->tid = *(s32 *)((char *)ctx + PID_OFFSET);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

TOOL = EventTool(
    name="threadsnoop",
    description="Trace thread creation (clone with CLONE_THREAD).",
    layout=EventLayout((("pid", "u32"), ("tid", "u32"), ("comm", "str:16"))),
    source=SOURCE,
    columns=(Column("PID", "pid", -7), Column("COMM", "comm", -16), Column("TID", "tid", -1)),
    defines=lambda args: {"FLAGS_OFFSET": offset("task:task_newtask", "clone_flags"),
                          "PID_OFFSET": offset("task:task_newtask", "pid")},
)
