"""opensnoop: trace file opens (BCC's opensnoop, on the syscalls:sys_enter_openat and
sys_exit_openat tracepoints; built on pybpf's own API). The entry keeps the path pointer
per thread, the exit reads the path and the result. Columns: PID COMM FD ERR PATH."""

from __future__ import annotations

import errno

from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } paths SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_enter(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 path = *(u64 *)((char *)ctx + FILENAME_OFFSET);
    bpf_map_update_elem(&paths, &id, &path, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_exit(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 *path = bpf_map_lookup_elem(&paths, &id);
    if (!path)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->ts = bpf_ktime_get_ns();
        e->pid = id >> 32;
        e->tid = (u32)id;
        e->ret = *(s64 *)((char *)ctx + RET_OFFSET);
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)*path);
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&paths, &id);
    return 0;
}
LICENSE("GPL");
"""


def _derive(event: dict) -> None:
    ret = event["ret"]
    event["fd"] = ret if ret >= 0 else -1
    event["err"] = 0 if ret >= 0 else -ret
    event["errname"] = "" if ret >= 0 else errno.errorcode.get(-ret, str(-ret))


TOOL = EventTool(
    name="opensnoop",
    description="Trace open() calls (openat) with their paths and results.",
    layout=EventLayout((("pid", "u32"), ("tid", "u32"), ("ret", "s64"), ("comm", "str:16"), ("path", "str:256"))),
    source=SOURCE,
    columns=(Column("PID", "pid", -7), Column("COMM", "comm", -16), Column("FD", "fd", 3),
             Column("ERR", "err", 3), Column("PATH", "path", -1)),
    defines=lambda args: {"FILENAME_OFFSET": offset("syscalls:sys_enter_openat", "filename"),
                     "RET_OFFSET": offset("syscalls:sys_exit_openat", "ret")},
    derive=_derive,
    failed=lambda event: event["ret"] < 0,
)
