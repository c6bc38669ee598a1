"""Syscalls that take a path (open, stat, ...) traced as one event each: the entry
tracepoint keeps the path pointer per thread (and the ``flags`` and ``mode`` of the calls
that have them, openat2's read from its struct open_how), the exit reads the path (now faulted in)
and the result. Shared by opensnoop and statsnoop; each syscall gets its own pair of
programs, the path's offset in its entry record read from tracefs.

With ``full_path`` (opensnoop's ``-F``), the exit also names the directory a relative path
starts from — the process's current directory, or the directory open at the call's ``dfd``
— by walking its dentries up to the root (crossing mount points) with CO-RE reads, in a
bounded loop: the names go, innermost first, into a buffer of :data:`DIR_BYTES`, and
:func:`deriver` joins them in front of the path."""

from __future__ import annotations

import errno
from collections.abc import Sequence

from pybpf.tools.events import EventLayout, offset

#: the bytes kept of a directory's names (each cut at NAME_MAX), and the most levels walked
DIR_BYTES = 4096
DIR_LEVELS = 64

LAYOUT = EventLayout((("pid", "u32"), ("tid", "u32"), ("uid", "u32"), ("ret", "s64"), ("nr", "u32"),
                      ("flags", "u32"), ("mode", "u32"), ("comm", "str:16"), ("path", "str:256")))
#: with ``full_path``: the directory's names, how many, their bytes, whether the walk reached the root
FULL_LAYOUT = EventLayout((*LAYOUT.fields, ("dir_depth", "u32"), ("dir_size", "u32"), ("dir_complete", "u32"),
                           ("dir", f"bytes:{DIR_BYTES}")))

_COMMON = r"""
#define AT_FDCWD -100
struct call { u64 path; u32 flags; u32 mode; s32 dfd; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, struct call); } paths SEC(".maps");

/* at entry: the path pointer, and the open flags and mode — from the record's fields at
   flags_offset/mode_offset, or from the struct open_how at how_offset (openat2); -1: none */
static __always_inline int remember(void *ctx, u32 path_offset, int flags_offset, int mode_offset, int how_offset,
                                    int dfd_offset)
{
    u64 id = bpf_get_current_pid_tgid();
    struct call call = { .path = *(u64 *)((char *)ctx + path_offset), .dfd = AT_FDCWD };
    if (dfd_offset >= 0)
        call.dfd = *(s64 *)((char *)ctx + dfd_offset);
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

#ifdef FULL_PATH
struct walk { struct event *e; struct dentry *dentry; struct mount *mnt; u32 size; };

/* one step up (a bpf_loop callback, so the verifier checks one step, not DIR_LEVELS):
   the dentry's name, then its parent; at its mount's root, on from the mount point in the
   parent mount; done (1) at the root of the root mount or when the buffer is full */
static long walk_up(u64 level, struct walk *walk)
{
    struct event *e = walk->e;
    struct dentry *dentry = walk->dentry, *parent = BPF_CORE_READ(dentry, d_parent);
    struct mount *mnt = walk->mnt;
    if (dentry == BPF_CORE_READ(mnt, mnt.mnt_root) || dentry == parent) {
        struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
        if (up == mnt) {
            e->dir_complete = 1;
            return 1;
        }
        walk->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
        walk->mnt = up;
        return 0;
    }
    u32 size = walk->size;
    if (size > DIR_BYTES - NAME_BYTES)
        return 1;
    long n = bpf_probe_read_kernel_str(&e->dir[size], NAME_BYTES, BPF_CORE_READ(dentry, d_name.name));
    if (n <= 0)
        return 1;
    walk->size = size + n;
    e->dir_size = size + n;
    e->dir_depth++;
    walk->dentry = parent;
    return 0;
}

/* the names of the directory a relative path starts from (the current one, or the one
   open at dfd), innermost first */
static __always_inline void directory_names(struct event *e, s32 dfd)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct path where = {};
    if (dfd == AT_FDCWD) {
        BPF_CORE_READ_INTO(&where, task, fs, pwd);
    } else {
        struct file **files = BPF_CORE_READ(task, files, fdt, fd);
        struct file *file = NULL;
        if (dfd < 0 || (u32)dfd >= BPF_CORE_READ(task, files, fdt, max_fds))
            return;
        bpf_probe_read_kernel(&file, sizeof(file), &files[dfd]);
        if (!file)
            return;
        BPF_CORE_READ_INTO(&where, file, f_path);
    }
    struct walk walk = { .e = e, .dentry = where.dentry,
                         .mnt = (struct mount *)((char *)where.mnt - __builtin_offsetof(struct mount, mnt)) };
    bpf_loop(DIR_LEVELS, walk_up, &walk, 0);
}
#endif

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
#ifdef FULL_PATH
        e->dir_depth = e->dir_size = e->dir_complete = 0;
        if (e->path[0] && e->path[0] != '/')
            directory_names(e, call->dfd);
#endif
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&paths, &id);
    return 0;
}
"""

_PAIR = r"""
SEC("tracepoint/syscalls/sys_enter_{name}")
int enter_{index}(void *ctx) {{ return remember(ctx, {path}, {flags}, {mode}, {how}, {dfd}); }}

SEC("tracepoint/syscalls/sys_exit_{name}")
int exit_{index}(void *ctx) {{ return report(ctx, {ret}, {index}); }}
"""


def source(syscalls: Sequence[str], full_path: bool = False) -> str:
    """The C program tracing ``syscalls`` (those this kernel has; their index in the
    list is the event's ``nr``); ``full_path``: for events of :data:`FULL_LAYOUT`, with the
    names of the directory a relative path starts from."""
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
                 for field in ("flags", "mode", "how", "dfd")}
        pairs.append(_PAIR.format(name=name, index=index, path=offset(f"syscalls:sys_enter_{name}", path),
                                  ret=offset(f"syscalls:sys_exit_{name}", "ret"), **where))
    walk = f"#define FULL_PATH\n#define DIR_BYTES {DIR_BYTES}\n#define DIR_LEVELS {DIR_LEVELS}\n#define NAME_BYTES 256\n"
    return (walk if full_path else "") + _COMMON + "".join(pairs) + 'LICENSE("GPL");\n'


def deriver(syscalls: Sequence[str]):
    """The tool's ``derive``: FD (opens), ERR and its name, the syscall's name."""
    def derive(event: dict) -> None:
        ret = event["ret"]
        event["fd"] = ret if ret >= 0 else -1
        event["err"] = 0 if ret >= 0 else -ret
        event["errname"] = "" if ret >= 0 else errno.errorcode.get(-ret, str(-ret))
        event["syscall"] = syscalls[event["nr"]]
        if "dir" in event:
            event["dir"] = _directory(event)
            if event["dir"]:
                event["path"] = event["dir"].rstrip("/") + "/" + event["path"]
    return derive


def _directory(event: dict) -> str:
    """The directory walked for a relative path (:data:`FULL_LAYOUT`), from the hex of its
    names innermost first; "" when none was; ``...`` first when the walk stopped short of
    the root."""
    if not event["path"] or event["path"].startswith("/"):
        return ""
    raw = bytes.fromhex(event["dir"])[:event["dir_size"]]
    names = [name.decode(errors="replace") for name in raw.split(b"\0")[:event["dir_depth"]]]
    if not names and not event["dir_complete"]:         # no directory to walk (a closed dfd)
        return ""
    return ("" if event["dir_complete"] else "...") + "/" + "/".join(reversed(names))
