"""Syscalls that take a path (open, stat, ...) traced as one event each: the entry
tracepoint keeps the path pointer per thread (and the ``flags`` and ``mode`` of the calls
that have them, openat2's read from its struct open_how), the exit reads the path (now faulted in)
and the result. Shared by opensnoop and statsnoop; each syscall gets its own pair of
programs, the path's offset in its entry record read from tracefs."""

from __future__ import annotations

import errno
from collections.abc import Sequence

from pybpf.tools.events import EventLayout, offset

LAYOUT = EventLayout((("pid", "u32"), ("tid", "u32"), ("uid", "u32"), ("ret", "s64"), ("nr", "u32"),
                      ("flags", "u32"), ("mode", "u32"), ("comm", "str:16"), ("path", "str:256")))

_COMMON = r"""
struct call { u64 path; u32 flags; u32 mode; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, struct call); } paths SEC(".maps");

/* at entry: the path pointer, and the open flags and mode — from the record's fields at
   flags_offset/mode_offset, or from the struct open_how at how_offset (openat2); -1: none */
static __always_inline int remember(void *ctx, u32 path_offset, int flags_offset, int mode_offset, int how_offset)
{
    u64 id = bpf_get_current_pid_tgid();
    struct call call = { .path = *(u64 *)((char *)ctx + path_offset) };
    if (flags_offset >= 0)
        call.flags = *(u64 *)((char *)ctx + flags_offset);
    if (mode_offset >= 0)
        call.mode = *(u64 *)((char *)ctx + mode_offset);
    if (how_offset >= 0) {
        struct open_how how = {};
        bpf_probe_read_user(&how, sizeof(how), (void *)*(u64 *)((char *)ctx + how_offset));
        call.flags = how.flags;
        call.mode = how.mode;
    }
    bpf_map_update_elem(&paths, &id, &call, BPF_ANY);
    return 0;
}

static __always_inline int report(void *ctx, u32 ret_offset, u32 nr)
{
    u64 id = bpf_get_current_pid_tgid();
    struct call *call = bpf_map_lookup_elem(&paths, &id);
    if (!call)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->ts = bpf_ktime_get_ns();
        e->pid = id >> 32;
        e->tid = (u32)id;
        e->uid = bpf_get_current_uid_gid();
        e->flags = call->flags;
        e->mode = call->mode;
        e->ret = *(s64 *)((char *)ctx + ret_offset);
        e->nr = nr;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)call->path);
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&paths, &id);
    return 0;
}
"""

_PAIR = r"""
SEC("tracepoint/syscalls/sys_enter_{name}")
int enter_{index}(void *ctx) {{ return remember(ctx, {path}, {flags}, {mode}, {how}); }}

SEC("tracepoint/syscalls/sys_exit_{name}")
int exit_{index}(void *ctx) {{ return report(ctx, {ret}, {index}); }}
"""


def source(syscalls: Sequence[str]) -> str:
    """The C program tracing ``syscalls`` (those this kernel has; their index in the
    list is the event's ``nr``)."""
    from pybpf.tracefs import Tracefs, TracefsError

    pairs = []
    for index, name in enumerate(syscalls):
        try:
            entry = Tracefs().format(f"syscalls:sys_enter_{name}")
        except TracefsError:
            continue                                   # not on this kernel/architecture
        names = {field.name for field in entry.fields}
        path = "filename" if "filename" in names else "pathname"
        where = {field: offset(f"syscalls:sys_enter_{name}", field) if field in names else -1
                 for field in ("flags", "mode", "how")}
        pairs.append(_PAIR.format(name=name, index=index, path=offset(f"syscalls:sys_enter_{name}", path),
                                  ret=offset(f"syscalls:sys_exit_{name}", "ret"), **where))
    return _COMMON + "".join(pairs) + 'LICENSE("GPL");\n'


def deriver(syscalls: Sequence[str]):
    """The tool's ``derive``: FD (opens), ERR and its name, the syscall's name."""
    def derive(event: dict) -> None:
        ret = event["ret"]
        event["fd"] = ret if ret >= 0 else -1
        event["err"] = 0 if ret >= 0 else -ret
        event["errname"] = "" if ret >= 0 else errno.errorcode.get(-ret, str(-ret))
        event["syscall"] = syscalls[event["nr"]]
    return derive
