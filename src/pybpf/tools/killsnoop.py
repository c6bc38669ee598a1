"""killsnoop: trace signals sent with kill() (BCC's killsnoop, on the
syscalls:sys_enter_kill and sys_exit_kill tracepoints; built on pybpf's own API).
Columns: PID COMM SIG TPID RESULT."""

from __future__ import annotations

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

TOOL = EventTool(
    name="killsnoop",
    description="Trace signals sent by kill().",
    layout=EventLayout((("pid", "u32"), ("tpid", "s32"), ("sig", "s32"), ("ret", "s64"), ("comm", "str:16"))),
    source=SOURCE,
    columns=(Column("PID", "pid", -7), Column("COMM", "comm", -16), Column("SIG", "sig", -4),
             Column("TPID", "tpid", -7), Column("RESULT", "ret", -1)),
    defines=lambda args: {"PID_OFFSET": offset("syscalls:sys_enter_kill", "pid"),
                     "SIG_OFFSET": offset("syscalls:sys_enter_kill", "sig"),
                     "RET_OFFSET": offset("syscalls:sys_exit_kill", "ret")},
    failed=lambda event: event["ret"] < 0,
)
