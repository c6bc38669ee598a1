"""What a program's section name says about it, following libbpf's conventions
(``SEC("xdp")``, ``SEC("tracepoint/sched/sched_switch")``, ``SEC("cgroup_skb/egress")``):
its program type, the attach type the kernel expects at load, the attach target spelled
after the prefix, and the hook it attaches to — one table for the ELF loader and for
attaching by section name.

Objects written for libbpf, BCC's libbpf-tools and cilium/ebpf load unchanged because
the same names mean the same things here.
"""

from __future__ import annotations

from pybpf.object.kinds import AttachType as A
from pybpf.object.kinds import ProgramType as P

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pybpf._namedtuple import NamedTuple


class SectionKind(NamedTuple):
    """The meaning of a section name."""

    program_type: P
    attach_type: A | None
    target: str          #: what follows the prefix ("sched/sched_switch"), may be empty
    sleepable: bool = False
    hook: str | None = None  #: the probe name it attaches to, before the target ("tracepoint", "cgroup::egress")

    def probe_name(self) -> str | None:
        """The bpftrace-style probe name the section says to attach to
        (``tracepoint/sched/x`` → ``tracepoint:sched:x``), or None."""
        if self.hook is None:
            return None
        return f"{self.hook}:{self.target.replace('/', ':')}" if self.target else self.hook


#: (prefix, program type, expected attach type, needs a target after "/", the hook it
#: attaches to as a probe name — what follows is the section's target, "/" as ":" —
#: or None where a section name alone does not say where to attach)
_TABLE: list[tuple[str, P, A | None, bool, str | None]] = [
    ("socket", P.SOCKET_FILTER, None, False, "socket"),
    ("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, False, None),
    ("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, False, None),
    ("kprobe.multi", P.KPROBE, A.TRACE_KPROBE_MULTI, True, "kprobe_multi"),
    ("kretprobe.multi", P.KPROBE, A.TRACE_KPROBE_MULTI, True, "kretprobe_multi"),
    ("uprobe.multi", P.KPROBE, A.TRACE_UPROBE_MULTI, True, "uprobe_multi"),
    ("uretprobe.multi", P.KPROBE, A.TRACE_UPROBE_MULTI, True, "uretprobe_multi"),
    ("kprobe", P.KPROBE, None, False, "kprobe"),
    ("kretprobe", P.KPROBE, None, False, "kretprobe"),
    ("uprobe", P.KPROBE, None, False, "uprobe"),
    ("uretprobe", P.KPROBE, None, False, "uretprobe"),
    ("usdt", P.KPROBE, None, False, "usdt"),
    ("ksyscall", P.KPROBE, None, True, None),
    ("kretsyscall", P.KPROBE, None, True, None),
    ("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, False, "tc:ingress"),
    ("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, False, "tc:egress"),
    ("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, False, "tc:ingress"),
    ("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, False, "tc:egress"),
    ("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY, False, None),
    ("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, False, None),
    ("tc", P.SCHED_CLS, None, False, "tc"),
    ("classifier", P.SCHED_CLS, None, False, "tc"),
    ("action", P.SCHED_ACT, None, False, None),
    ("tracepoint", P.TRACEPOINT, None, True, "tracepoint"),
    ("tp", P.TRACEPOINT, None, True, "tracepoint"),
    ("raw_tracepoint.w", P.RAW_TRACEPOINT_WRITABLE, None, True, None),
    ("raw_tp.w", P.RAW_TRACEPOINT_WRITABLE, None, True, None),
    ("raw_tracepoint", P.RAW_TRACEPOINT, None, True, "raw_tracepoint"),
    ("raw_tp", P.RAW_TRACEPOINT, None, True, "raw_tracepoint"),
    ("tp_btf", P.TRACING, A.TRACE_RAW_TP, True, "tp_btf"),
    ("fentry", P.TRACING, A.TRACE_FENTRY, True, "fentry"),
    ("fmod_ret", P.TRACING, A.MODIFY_RETURN, True, "fentry"),
    ("fexit", P.TRACING, A.TRACE_FEXIT, True, "fexit"),
    ("freplace", P.EXT, None, True, None),
    ("lsm_cgroup", P.LSM, A.LSM_CGROUP, True, None),
    ("lsm", P.LSM, A.LSM_MAC, True, "lsm"),
    ("iter", P.TRACING, A.TRACE_ITER, True, "iter"),
    ("syscall", P.SYSCALL, None, False, None),
    ("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, False, None),
    ("xdp/devmap", P.XDP, A.XDP_DEVMAP, False, "xdp:devmap"),
    ("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, False, None),
    ("xdp/cpumap", P.XDP, A.XDP_CPUMAP, False, "xdp:cpumap"),
    ("xdp.frags", P.XDP, A.XDP, False, None),
    ("xdp", P.XDP, A.XDP, False, "xdp"),
    ("perf_event", P.PERF_EVENT, None, False, "perf_event"),
    ("lwt_in", P.LWT_IN, None, False, None),
    ("lwt_out", P.LWT_OUT, None, False, None),
    ("lwt_xmit", P.LWT_XMIT, None, False, None),
    ("lwt_seg6local", P.LWT_SEG6LOCAL, None, False, None),
    ("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, False, None),
    ("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, False, None),
    ("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, False, None),
    ("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, False, None),
    ("sk_skb", P.SK_SKB, None, False, None),
    ("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, False, None),
    ("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, False, None),
    ("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, False, None),
    ("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, False, "cgroup::ingress"),
    ("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, False, "cgroup::egress"),
    ("cgroup/skb", P.CGROUP_SKB, None, False, "cgroup::skb"),
    ("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, False, "cgroup::sock_create"),
    ("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, False, "cgroup::sock_release"),
    ("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, False, "cgroup::sock"),
    ("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, False, "cgroup::post_bind4"),
    ("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, False, "cgroup::post_bind6"),
    ("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, False, "cgroup::bind4"),
    ("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, False, "cgroup::bind6"),
    ("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, False, "cgroup::connect4"),
    ("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, False, "cgroup::connect6"),
    ("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, False, "cgroup::connect_unix"),
    ("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, False, "cgroup::sendmsg4"),
    ("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, False, "cgroup::sendmsg6"),
    ("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, False, "cgroup::sendmsg_unix"),
    ("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, False, "cgroup::recvmsg4"),
    ("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, False, "cgroup::recvmsg6"),
    ("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, False, "cgroup::recvmsg_unix"),
    ("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, False, "cgroup::getpeername4"),
    ("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, False, "cgroup::getpeername6"),
    ("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, False, "cgroup::getpeername_unix"),
    ("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, False, "cgroup::getsockname4"),
    ("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, False, "cgroup::getsockname6"),
    ("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, False, "cgroup::getsockname_unix"),
    ("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, False, "cgroup::sysctl"),
    ("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, False, "cgroup::getsockopt"),
    ("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, False, "cgroup::setsockopt"),
    ("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, False, "cgroup::dev"),
    ("struct_ops", P.STRUCT_OPS, None, True, None),
    ("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, False, None),
    ("netfilter", P.NETFILTER, A.NETFILTER, False, None),
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
    for prefix, program_type, attach_type, needs_target, hook in _TABLE:
        if name == prefix:
            if needs_target:
                return None
            return SectionKind(program_type, attach_type, "", sleepable, hook)
        if name.startswith(prefix + "/"):
            return SectionKind(program_type, attach_type, name[len(prefix) + 1:], sleepable, hook)
    return None
