"""tcpstates: trace TCP state changes, with the time spent in the old state (BCC's
tcpstates, on the sock:inet_sock_set_state tracepoint; built on pybpf's own API).
Columns: SKADDR C-PID C-COMM IP LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS. The
pid and command are whoever was running when the state changed (for states reached in
softirq context, an unrelated task, as in BCC)."""

from __future__ import annotations

from pybpf.tools.events import EventLayout
from pybpf.tools.inet import STATES, TRACEPOINT_C, addresses, field_offsets
from pybpf.tools.tool import Column, EventTool

#: the tracepoint's fields the program reads besides the endpoints
FIELDS = ("skaddr", "oldstate", "newstate", "protocol")

SOURCE = TRACEPOINT_C + r"""
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } last SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(void *ctx)
{
    if (FIELD(u16, protocol) != 6 /* IPPROTO_TCP */)
        return 0;
    if (CONNECT_ONLY && FIELD(s32, newstate) != 2 /* TCP_SYN_SENT */)
        return 0;
    u64 skaddr = FIELD(u64, skaddr), now = bpf_ktime_get_ns();
    u64 *before = bpf_map_lookup_elem(&last, &skaddr);
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->ts = now;
        e->skaddr = skaddr;
        e->pid = bpf_get_current_pid_tgid() >> 32;
        e->oldstate = FIELD(s32, oldstate);
        e->newstate = FIELD(s32, newstate);
        e->delta_ns = before ? now - *before : 0;
        copy_endpoints(ctx, e);
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_ringbuf_submit(e, 0);
    }
    if (FIELD(s32, newstate) == 7 /* TCP_CLOSE */)
        bpf_map_delete_elem(&last, &skaddr);
    else
        bpf_map_update_elem(&last, &skaddr, &now, BPF_ANY);
    return 0;
}
LICENSE("GPL");
"""

LAYOUT = EventLayout((("skaddr", "u64"), ("pid", "u32"), ("oldstate", "s32"), ("newstate", "s32"), ("sport", "u32"),
                      ("dport", "u32"), ("family", "u32"), ("delta_ns", "u64"), ("saddr", "bytes:16"),
                      ("daddr", "bytes:16"), ("comm", "str:16")))


def defines(connect_only: bool) -> dict[str, int]:
    """Field offsets from tracefs, and whether only SYN_SENT (connect) transitions count."""
    return {"CONNECT_ONLY": int(connect_only),
            **field_offsets("sock:inet_sock_set_state", FIELDS)}


def derive(event: dict) -> None:
    """Addresses as text, IP version, state names, milliseconds."""
    addresses(event)
    event["skaddr_hex"] = f"{event['skaddr']:x}"
    event["old"] = STATES.get(event["oldstate"], str(event["oldstate"]))
    event["new"] = STATES.get(event["newstate"], str(event["newstate"]))
    event["transition"] = f"{event['old']} -> {event['new']}"
    event["ms"] = f"{event['delta_ns'] / 1e6:.3f}"


TOOL = EventTool(
    name="tcpstates",
    description="Trace TCP state changes, with the time spent in each state.",
    layout=LAYOUT,
    source=SOURCE,
    columns=(Column("SKADDR", "skaddr_hex", -16), Column("C-PID", "pid", -7), Column("C-COMM", "comm", -16),
             Column("IP", "ip", -2), Column("LADDR", "saddr", -15), Column("LPORT", "sport", -5),
             Column("RADDR", "daddr", -15), Column("RPORT", "dport", -5), Column("OLDSTATE -> NEWSTATE", "transition", -25),
             Column("MS", "ms", -1)),
    defines=lambda args: defines(False),
    derive=derive,
)
