"""tcplife: one line per TCP session when it closes — who, between which addresses,
bytes sent and received, how long it lived (BCC's tcplife, on the
sock:inet_sock_set_state tracepoint; the byte counts are CO-RE reads of the closing
socket's struct tcp_sock bytes_acked and bytes_received, located through the kernel's BTF;
built on pybpf's own API). The pid and command are those of the task that moved the socket
to SYN_SENT or LAST_ACK (connect or close), else the one running at close, as in BCC.
Columns: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS (``-w`` adds IP and widens)."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout
from pybpf.tools.inet import TRACEPOINT_C, addresses, field_offsets, session_arguments, session_wanted
from pybpf.tools.tool import Column, EventTool

#: the tracepoint's fields the program reads besides the endpoints
FIELDS = ("skaddr", "newstate", "protocol")

SOURCE = TRACEPOINT_C + r"""
struct owner { u32 pid; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } birth SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, struct owner); } whoami SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(void *ctx)
{
    if (FIELD(u16, protocol) != 6 /* IPPROTO_TCP */)
        return 0;
    u64 skaddr = FIELD(u64, skaddr), now = bpf_ktime_get_ns();
    s32 state = FIELD(s32, newstate);
    if (state < 4 /* TCP_FIN_WAIT1: ESTABLISHED, SYN_SENT, SYN_RECV */)
        bpf_map_update_elem(&birth, &skaddr, &now, BPF_ANY);
    if (state == 2 /* TCP_SYN_SENT */ || state == 9 /* TCP_LAST_ACK */) {
        struct owner me = { .pid = bpf_get_current_pid_tgid() >> 32 };
        bpf_get_current_comm(me.comm, sizeof(me.comm));
        bpf_map_update_elem(&whoami, &skaddr, &me, BPF_ANY);
    }
    if (state != 7 /* TCP_CLOSE */)
        return 0;
    u64 *born = bpf_map_lookup_elem(&birth, &skaddr);
    struct owner *who = bpf_map_lookup_elem(&whoami, &skaddr);
    if (!born) {                                     /* never established (a listener, a failed connect) */
        bpf_map_delete_elem(&whoami, &skaddr);
        return 0;
    }
    u32 pid = who ? who->pid : bpf_get_current_pid_tgid() >> 32;
    if (FILTER_PID && pid != FILTER_PID)
        goto done;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        goto done;
    struct tcp_sock *tp = (struct tcp_sock *)skaddr;
    e->ts = now;
    e->pid = pid;
    e->span_ns = now - *born;
    e->tx_bytes = BPF_CORE_READ(tp, bytes_acked);
    e->rx_bytes = BPF_CORE_READ(tp, bytes_received);
    copy_endpoints(ctx, e);
    if (who)
        __builtin_memcpy(e->comm, who->comm, sizeof(e->comm));
    else
        bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
done:
    bpf_map_delete_elem(&birth, &skaddr);
    bpf_map_delete_elem(&whoami, &skaddr);
    return 0;
}
LICENSE("GPL");
"""

LAYOUT = EventLayout((("pid", "u32"), ("family", "u32"), ("sport", "u32"), ("dport", "u32"), ("tx_bytes", "u64"),
                      ("rx_bytes", "u64"), ("span_ns", "u64"), ("saddr", "bytes:16"), ("daddr", "bytes:16"),
                      ("comm", "str:16")))


def _derive(event: dict) -> None:
    addresses(event)
    event["tx_kb"] = event["tx_bytes"] // 1024
    event["rx_kb"] = event["rx_bytes"] // 1024
    event["ms"] = f"{event['span_ns'] / 1e6:.2f}"


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    wide = args.wide or args.csv
    address = -39 if args.wide else -15
    return (Column("PID", "pid", -5), Column("COMM", "comm", -16 if wide else -10),
            *((Column("IP", "ip", -2),) if wide else ()),
            Column("LADDR", "saddr", address), Column("LPORT", "sport", -5), Column("RADDR", "daddr", address),
            Column("RPORT", "dport", -5), Column("TX_KB", "tx_kb", 6 if wide else 5),
            Column("RX_KB", "rx_kb", 6 if wide else 5), Column("MS", "ms", -1))


TOOL = EventTool(
    name="tcplife",
    description=DESCRIPTIONS["tcplife"],
    layout=LAYOUT,
    source=SOURCE,
    columns=_columns,
    defines=lambda args: {"FILTER_PID": args.pid or 0,
                          **field_offsets("sock:inet_sock_set_state", FIELDS)},
    derive=_derive,
    keep=session_wanted,
    extra_arguments=session_arguments,
)
