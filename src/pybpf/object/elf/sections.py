"""What a program's ELF section name says about it, following libbpf's conventions
(``SEC("xdp")``, ``SEC("tracepoint/sched/sched_switch")``, ``SEC("cgroup_skb/egress")``):
its program type, the attach type the kernel expects at load, and the attach target
spelled after the prefix.

Objects written for libbpf, BCC's libbpf-tools and cilium/ebpf load unchanged because
the same names mean the same things here.
"""

from __future__ import annotations

from typing import NamedTuple

from pybpf.object.kinds import AttachType as A
from pybpf.object.kinds import ProgramType as P


class SectionKind(NamedTuple):
    """The meaning of a section name."""

    program_type: P
    attach_type: A | None
    target: str          #: what follows the prefix ("sched/sched_switch"), may be empty
    sleepable: bool = False


#: (prefix, program type, expected attach type, needs a target after "/")
_TABLE: list[tuple[str, P, A | None, bool]] = [
    ("socket", P.SOCKET_FILTER, None, False),
    ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, False),
    ("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, False),
    ("kprobe.multi", P.KPROBE, A.TRACE_KPROBE_MULTI, True),
    ("kretprobe.multi", P.KPROBE, A.TRACE_KPROBE_MULTI, True),
    ("uprobe.multi", P.KPROBE, A.TRACE_UPROBE_MULTI, True),
    ("uretprobe.multi", P.KPROBE, A.TRACE_UPROBE_MULTI, True),
    ("kprobe", P.KPROBE, None, False),
    ("kretprobe", P.KPROBE, None, False),
    ("uprobe", P.KPROBE, None, False),
    ("uretprobe", P.KPROBE, None, False),
    ("usdt", P.KPROBE, None, False),
    ("ksyscall", P.KPROBE, None, True),
    ("kretsyscall", P.KPROBE, None, True),
    ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, False),
    ("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, False),
    ("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, False),
    ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, False),
    ("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY, False),
    ("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, False),
    ("tc", P.SCHED_CLS, None, False),
    ("classifier", P.SCHED_CLS, None, False),
    ("action", P.SCHED_ACT, None, False),
    ("tracepoint", P.TRACEPOINT, None, True),
    ("tp", P.TRACEPOINT, None, True),
    ("raw_tracepoint.w", P.RAW_TRACEPOINT_WRITABLE, None, True),
    ("raw_tp.w", P.RAW_TRACEPOINT_WRITABLE, None, True),
    ("raw_tracepoint", P.RAW_TRACEPOINT, None, True),
    ("raw_tp", P.RAW_TRACEPOINT, None, True),
    ("tp_btf", P.TRACING, A.TRACE_RAW_TP, True),
    ("fentry", P.TRACING, A.TRACE_FENTRY, True),
    ("fmod_ret", P.TRACING, A.MODIFY_RETURN, True),
    ("fexit", P.TRACING, A.TRACE_FEXIT, True),
    ("freplace", P.EXT, None, True),
    ("lsm_cgroup", P.LSM, A.LSM_CGROUP, True),
    ("lsm", P.LSM, A.LSM_MAC, True),
    ("iter", P.TRACING, A.TRACE_ITER, True),
    ("syscall", P.SYSCALL, None, False),
    ("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, False),
    ("xdp/devmap", P.XDP, A.XDP_DEVMAP, False),
    ("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, False),
    ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, False),
    ("xdp.frags", P.XDP, A.XDP, False),
    ("xdp", P.XDP, A.XDP, False),
    ("perf_event", P.PERF_EVENT, None, False),
    ("lwt_in", P.LWT_IN, None, False),
    ("lwt_out", P.LWT_OUT, None, False),
    ("lwt_xmit", P.LWT_XMIT, None, False),
    ("lwt_seg6local", P.LWT_SEG6LOCAL, None, False),
    ("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, False),
    ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, False),
    ("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, False),
    ("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, False),
    ("sk_skb", P.SK_SKB, None, False),
    ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, False),
    ("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, False),
    ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, False),
    ("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, False),
    ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, False),
    ("cgroup/skb", P.CGROUP_SKB, None, False),
    ("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, False),
    ("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, False),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, False),
    ("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, False),
    ("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, False),
    ("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, False),
    ("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, False),
    ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, False),
    ("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, False),
    ("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, False),
    ("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, False),
    ("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, False),
    ("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, False),
    ("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, False),
    ("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, False),
    ("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, False),
    ("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, False),
    ("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, False),
    ("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, False),
    ("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, False),
    ("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, False),
    ("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, False),
    ("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, False),
    ("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, False),
    ("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, False),
    ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, False),
    ("struct_ops", P.STRUCT_OPS, None, True),
    ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, False),
    ("netfilter", P.NETFILTER, A.NETFILTER, False),
]
#: sleepable variants: the same kind with ".s" after the first word
_SLEEPABLE = ("fentry.s", "fmod_ret.s", "fexit.s", "lsm.s", "iter.s", "uprobe.s", "uretprobe.s", "usdt.s",
              "uprobe.multi.s", "uretprobe.multi.s")


def section_kind(section: str) -> SectionKind | None:
    """The program type, attach type and target a section name declares, or None for a
    name libbpf would not recognise (the caller names the section in its error)."""
    sleepable = False
    head, slash, rest = section.partition("/")
    if head in _SLEEPABLE:
        sleepable, head = True, head[:-2]
    name = head + slash + rest
    for prefix, program_type, attach_type, needs_target in _TABLE:
        if name == prefix:
            if needs_target:
                return None
            return SectionKind(program_type, attach_type, "", sleepable)
        if name.startswith(prefix + "/"):
            return SectionKind(program_type, attach_type, name[len(prefix) + 1:], sleepable)
    return None


def known_prefixes() -> list[str]:
    """Every recognised prefix, for error messages."""
    return [prefix for prefix, *_ in _TABLE]
