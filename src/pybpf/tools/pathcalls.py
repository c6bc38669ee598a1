"""Syscalls that take a path (open, stat, ...) traced as one event each: the entry
tracepoint keeps the path pointer per thread, the exit reads the path (now faulted in)
and the result. Shared by opensnoop and statsnoop; each syscall gets its own pair of
programs, the path's offset in its entry record read from tracefs."""

from __future__ import annotations

import errno
from collections.abc import Sequence

from pybpf.tools.events import EventLayout, offset

LAYOUT = EventLayout((("pid", "u32"), ("tid", "u32"), ("ret", "s64"), ("nr", "u32"), ("comm", "str:16"),
                      ("path", "str:256")))

_COMMON = r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } paths SEC(".maps");

static __always_inline int remember(void *ctx, u32 path_offset)
{
    u64 id = bpf_get_current_pid_tgid();
    u64 path = *(u64 *)((char *)ctx + path_offset);
    bpf_map_update_elem(&paths, &id, &path, BPF_ANY);
    return 0;
}

static __always_inline int report(void *ctx, u32 ret_offset, u32 nr)
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
        e->ret = *(s64 *)((char *)ctx + ret_offset);
        e->nr = nr;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)*path);
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&paths, &id);
    return 0;
}
"""

_PAIR = r"""
SEC("tracepoint/syscalls/sys_enter_{name}")
int enter_{index}(void *ctx) {{ return remember(ctx, {path}); }}

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
        pairs.append(_PAIR.format(name=name, index=index, path=offset(f"syscalls:sys_enter_{name}", path),
                                  ret=offset(f"syscalls:sys_exit_{name}", "ret")))
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
