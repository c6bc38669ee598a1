"""tcpstates: trace TCP state changes, with the time spent in the old state (BCC's
tcpstates, on the sock:inet_sock_set_state tracepoint; built on pybpf's own API).
Columns: SKADDR C-PID C-COMM LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS (``-w``
and ``-s`` add IP; flags as BCC's: ``-w``, ``-s``, ``-L``/``-D`` ports, ``-4``/``-6``). The
pid and command are whoever was running when the state changed (for states reached in
softirq context, an unrelated task, as in BCC)."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout
from pybpf.tools.inet import STATES, TRACEPOINT_C, addresses, field_offsets, session_arguments, session_wanted
from pybpf.tools.tool import Column, EventTool

#: the tracepoint's fields the program reads besides the endpoints
FIELDS = ("skaddr", "oldstate", "newstate", "protocol")

SOURCE = TRACEPOINT_C + r"""
/* who moved a socket to its present state, and when */
struct seen { u64 ts; u32 pid; u32 uid; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, struct seen); } last SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(void *ctx)
{
    if (FIELD(u16, protocol) != 6 /* IPPROTO_TCP */)
        return 0;
    u64 skaddr = FIELD(u64, skaddr), now = bpf_ktime_get_ns();
    s32 oldstate = FIELD(s32, oldstate), newstate = FIELD(s32, newstate);
    struct seen me = { .ts = now, .pid = bpf_get_current_pid_tgid() >> 32, .uid = bpf_get_current_uid_gid() };
    bpf_get_current_comm(me.comm, sizeof(me.comm));
    struct seen *before = bpf_map_lookup_elem(&last, &skaddr);
    /* tcpconnect: a connect is reported as its socket leaves SYN_SENT (its local port is
       chosen after the move to SYN_SENT), as the task that moved it there, with the time
       spent in SYN_SENT */
    if (!CONNECT_ONLY || (oldstate == 2 /* TCP_SYN_SENT */ && before)) {
        struct seen who = me;
        if (CONNECT_ONLY && before)
            who = *before;
        struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (e) {
            e->ts = who.ts;
            e->skaddr = skaddr;
            e->pid = who.pid;
            e->uid = who.uid;
            e->oldstate = CONNECT_ONLY ? 7 /* TCP_CLOSE */ : oldstate;
            e->newstate = CONNECT_ONLY ? 2 : newstate;
            e->delta_ns = before ? now - before->ts : 0;
            copy_endpoints(ctx, e);
            __builtin_memcpy(e->comm, who.comm, sizeof(e->comm));
            bpf_ringbuf_submit(e, 0);
        }
    }
    if (newstate == 7 /* TCP_CLOSE */ || (CONNECT_ONLY && newstate != 2))
        bpf_map_delete_elem(&last, &skaddr);
    else
        bpf_map_update_elem(&last, &skaddr, &me, BPF_ANY);
    return 0;
}
LICENSE("GPL");
"""

LAYOUT = EventLayout((("skaddr", "u64"), ("pid", "u32"), ("uid", "u32"), ("oldstate", "s32"), ("newstate", "s32"), ("sport", "u32"),
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


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    """BCC's columns: IP with -w or -s, wide ones with -w, the states apart in CSV."""
    wide = args.wide or args.csv
    address = -39 if args.wide else -15
    return (Column("SKADDR", "skaddr_hex", -16), Column("C-PID", "pid", -5), Column("C-COMM", "comm", -16 if wide else -10),
            *((Column("IP", "ip", -2),) if wide else ()), Column("LADDR", "saddr", address),
            Column("LPORT", "sport", -5), Column("RADDR", "daddr", address), Column("RPORT", "dport", -5),
            *((Column("OLDSTATE", "old", 0), Column("NEWSTATE", "new", 0)) if args.csv
              else (Column("OLDSTATE -> NEWSTATE", "transition", -25),)), Column("MS", "ms", -1))


TOOL = EventTool(
    name="tcpstates",
    description=DESCRIPTIONS["tcpstates"],
    layout=LAYOUT,
    source=SOURCE,
    columns=_columns,
    defines=lambda args: defines(False),
    derive=derive,
    keep=session_wanted,
    extra_arguments=session_arguments,
)
