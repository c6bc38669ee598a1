"""tcpaccept: trace passive TCP connections as the accepting process takes them —
BCC's tcpaccept, which hooks inet_csk_accept()'s return with a kprobe; here the
syscalls:sys_exit_accept and sys_exit_accept4 tracepoints give the new descriptor in the
accepting task, and CO-RE reads follow it (task->files->fdt->fd[fd]->private_data, the
struct socket, to its struct sock) to the connection's addresses. Built on pybpf's own API.
Columns: PID COMM IP RADDR RPORT LADDR LPORT. Accepts made without accept()/accept4()
(io_uring) are not seen."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, offset
from pybpf.tools.inet import addresses, family_arguments, family_wanted, ports
from pybpf.tools.tool import Column, EventTool

SOURCE = r"""
static __always_inline int accepted(void *ctx)
{
    s64 fd = *(s64 *)((char *)ctx + RET_OFFSET);
    if (fd < 0)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    if (FILTER_PID && (id >> 32) != FILTER_PID)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
    struct file *file = 0;
    if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
        return 0;
    struct socket *sock = BPF_CORE_READ(file, private_data);
    struct sock *sk = BPF_CORE_READ(sock, sk);
    if (!sk || BPF_CORE_READ(sk, sk_protocol) != 6 /* IPPROTO_TCP */)
        return 0;
    u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != 2 && family != 10)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->pid = id >> 32;
    e->family = family;
    e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    __builtin_memset(e->saddr, 0, 16);
    __builtin_memset(e->daddr, 0, 16);
    if (family == 2) {
        BPF_CORE_READ_INTO((u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO((u32 *)e->daddr, sk, __sk_common.skc_daddr);
    } else {
        BPF_CORE_READ_INTO((struct in6_addr *)e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO((struct in6_addr *)e->daddr, sk, __sk_common.skc_v6_daddr);
    }
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept(void *ctx) { return accepted(ctx); }

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4(void *ctx) { return accepted(ctx); }
LICENSE("GPL");
"""

LAYOUT = EventLayout((("pid", "u32"), ("family", "u32"), ("sport", "u32"), ("dport", "u32"),
                      ("saddr", "bytes:16"), ("daddr", "bytes:16"), ("comm", "str:16")))


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--port", type=ports, help="only these local ports (comma-separated)")
    family_arguments(parser)


def _keep(args: argparse.Namespace, event: dict) -> bool:
    return family_wanted(args, event) and (args.port is None or event["sport"] in args.port)


TOOL = EventTool(
    name="tcpaccept",
    description=DESCRIPTIONS["tcpaccept"],
    layout=LAYOUT,
    source=SOURCE,
    columns=(Column("PID", "pid", -7), Column("COMM", "comm", -12), Column("IP", "ip", -2),
             Column("RADDR", "daddr", -16), Column("RPORT", "dport", -5), Column("LADDR", "saddr", -16),
             Column("LPORT", "sport", -1)),
    defines=lambda args: {"FILTER_PID": args.pid or 0, "RET_OFFSET": offset("syscalls:sys_exit_accept4", "ret")},
    derive=addresses,
    keep=_keep,
    extra_arguments=_arguments,
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)
