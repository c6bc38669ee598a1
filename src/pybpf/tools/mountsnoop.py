"""mountsnoop: trace mount() and umount() calls (BCC's mountsnoop, on the
syscalls:sys_enter/sys_exit tracepoints of mount and umount (umount2); built on pybpf's
own API — the entry keeps the arguments per thread, the exit reads the strings and the
result). Columns: COMM PID TID MNT_NS CALL — the call as C, then its result; BCC's ``-P``
adds the parent's PCOMM and PPID."""

from __future__ import annotations

import argparse
import errno

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
struct call { u64 source, target, fstype, flags; u32 umount; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, struct call); } calls SEC(".maps");

#define ARG(offset) (*(u64 *)((char *)ctx + (offset)))

SEC("tracepoint/syscalls/sys_enter_mount")
int enter_mount(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    struct call c = { ARG(MOUNT_SOURCE), ARG(MOUNT_TARGET), ARG(MOUNT_TYPE), ARG(MOUNT_FLAGS), 0 };
    bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_umount")
int enter_umount(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    struct call c = { 0, ARG(UMOUNT_TARGET), 0, ARG(UMOUNT_FLAGS), 1 };
    bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
    return 0;
}

static __always_inline int report(void *ctx, u32 ret_offset)
{
    u64 id = bpf_get_current_pid_tgid();
    struct call *c = bpf_map_lookup_elem(&calls, &id);
    if (!c)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        e->ts = bpf_ktime_get_ns();
        e->pid = id >> 32;
        e->tid = (u32)id;
        e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
        e->ppid = BPF_CORE_READ(task, real_parent, tgid);
        BPF_CORE_READ_INTO(&e->pcomm, task, real_parent, comm);
        e->ret = *(s64 *)((char *)ctx + ret_offset);
        e->flags = c->flags;
        e->umount = c->umount;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        e->source[0] = e->fstype[0] = 0;
        if (c->source)
            bpf_probe_read_user_str(e->source, sizeof(e->source), (const char *)c->source);
        bpf_probe_read_user_str(e->target, sizeof(e->target), (const char *)c->target);
        if (c->fstype)
            bpf_probe_read_user_str(e->fstype, sizeof(e->fstype), (const char *)c->fstype);
        bpf_ringbuf_submit(e, 0);
    }
    bpf_map_delete_elem(&calls, &id);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int exit_mount(void *ctx) { return report(ctx, MOUNT_RET); }

SEC("tracepoint/syscalls/sys_exit_umount")
int exit_umount(void *ctx) { return report(ctx, UMOUNT_RET); }
LICENSE("GPL");
"""


def _derive(event: dict) -> None:
    ret = event["ret"]
    result = "0" if ret == 0 else f"-{errno.errorcode.get(-ret, str(-ret))}" if ret < 0 else str(ret)
    if event["umount"]:
        event["call"] = f'umount("{event["target"]}", 0x{event["flags"]:x}) = {result}'
    else:
        event["call"] = (f'mount("{event["source"]}", "{event["target"]}", "{event["fstype"]}", '
                         f'0x{event["flags"]:x}, "") = {result}')


def _defines(args) -> dict[str, int]:
    enter_mount, enter_umount = "syscalls:sys_enter_mount", "syscalls:sys_enter_umount"
    return {"MOUNT_SOURCE": offset(enter_mount, "dev_name"), "MOUNT_TARGET": offset(enter_mount, "dir_name"),
            "MOUNT_TYPE": offset(enter_mount, "type"), "MOUNT_FLAGS": offset(enter_mount, "flags"),
            "UMOUNT_TARGET": offset(enter_umount, "name"), "UMOUNT_FLAGS": offset(enter_umount, "flags"),
            "MOUNT_RET": offset("syscalls:sys_exit_mount", "ret"), "UMOUNT_RET": offset("syscalls:sys_exit_umount", "ret")}


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    parent = (Column("PCOMM", "pcomm", -16), Column("PPID", "ppid", -7)) if args.parent_process else ()
    return (Column("COMM", "comm", -16), Column("PID", "pid", -7), Column("TID", "tid", -7), *parent,
            Column("MNT_NS", "mnt_ns", -11), Column("CALL", "call", -1))


TOOL = EventTool(
    name="mountsnoop",
    description=DESCRIPTIONS["mountsnoop"],
    layout=EventLayout((("pid", "u32"), ("tid", "u32"), ("ppid", "u32"), ("mnt_ns", "u32"), ("umount", "u32"), ("ret", "s64"),
                        ("flags", "u64"), ("comm", "str:16"), ("pcomm", "str:16"), ("source", "str:128"), ("target", "str:128"),
                        ("fstype", "str:32"))),
    source=SOURCE,
    columns=_columns,
    defines=_defines,
    derive=_derive,
    failed=lambda event: event["ret"] < 0,
    extra_arguments=lambda parser: parser.add_argument("-P", "--parent_process", action="store_true",
                                                       help="include the parent's command and pid (PCOMM, PPID)"),
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)
