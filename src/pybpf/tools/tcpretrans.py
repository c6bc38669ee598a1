"""tcpretrans: trace TCP retransmissions — BCC's tcpretrans, on the
tcp:tcp_retransmit_skb tracepoint (the sequence number is a CO-RE read of the skb's
struct tcp_skb_cb; built on pybpf's own API). Columns: TIME PID IP LADDR:LPORT T>
RADDR:RPORT STATE (``-s`` adds SEQ); ``-c`` counts retransmits per flow and prints the
counts at the end instead (a status line on a terminal meanwhile). BCC's ``-l`` (tail loss probes) needs a kprobe on
tcp_send_loss_probe, which has no tracepoint: it is refused."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, ToolError
from pybpf.tools.inet import STATES, TRACEPOINT_C, addresses, family_arguments, family_wanted, field_offsets
from pybpf.tools.tool import Column, CountedTool, EventTool

#: the tracepoint's fields the program reads besides the endpoints
FIELDS = ("skbaddr", "state")

SOURCE = TRACEPOINT_C + r"""
SEC("tracepoint/tcp/tcp_retransmit_skb")
int on_retransmit(void *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    struct sk_buff *skb = (struct sk_buff *)FIELD(u64, skbaddr);
    struct tcp_skb_cb *cb = (struct tcp_skb_cb *)skb->cb;
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->state = FIELD(s32, state);
    e->seq = BPF_CORE_READ(cb, seq);
    copy_endpoints(ctx, e);
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

LAYOUT = EventLayout((("pid", "u32"), ("state", "s32"), ("sport", "u32"), ("dport", "u32"), ("family", "u32"),
                      ("seq", "u32"), ("saddr", "bytes:16"), ("daddr", "bytes:16")))


def _endpoint(address: str, port: int, ip: int) -> str:
    return f"{address}:{port}" if ip == 4 else f"[{address}]:{port}"


def _derive(event: dict) -> None:
    addresses(event)
    event["type"] = "R"
    event["laddr_port"] = _endpoint(event["saddr"], event["sport"], event["ip"])
    event["raddr_port"] = _endpoint(event["daddr"], event["dport"], event["ip"])
    event["state_name"] = STATES.get(event["state"], str(event["state"]))


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--sequence", action="store_true", help="show TCP sequence numbers")
    parser.add_argument("-l", "--lossprobe", action="store_true",
                        help="tail loss probes too (needs a kprobe: refused on this tool)")
    parser.add_argument("-c", "--count", action="store_true", help="count retransmits per flow, print at the end")
    family_arguments(parser)


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("TIME", "_clock", -8), Column("PID", "pid", -7), Column("IP", "ip", -2),
            Column("LADDR:LPORT", "laddr_port", -20), Column("T>", "type", -2), Column("RADDR:RPORT", "raddr_port", -20),
            Column("STATE", "state_name", -12), *((Column("SEQ", "seq", -10),) if args.sequence else ()))


EVENTS = EventTool(
    name="tcpretrans",
    description=DESCRIPTIONS["tcpretrans"],
    layout=LAYOUT,
    source=SOURCE,
    columns=_columns,
    defines=lambda args: field_offsets("tcp:tcp_retransmit_skb", FIELDS),
    derive=_derive,
    keep=family_wanted,
    extra_arguments=_arguments,
)


def _refuse(args: argparse.Namespace) -> None:
    if args.lossprobe:
        raise ToolError("-l: tail loss probes are seen only by a kprobe on tcp_send_loss_probe, "
                        "and this tool uses tracepoints only")


TOOL = CountedTool(EVENTS, keys=(Column("LADDR:LPORT", "laddr_port", -25), Column("RADDR:RPORT", "raddr_port", -25)),
                   json_keys=("local", "remote"), count=Column("RETRANSMITS", "retransmits", 10),
                   banner="Tracing retransmits ... Hit Ctrl-C to end", refuse=_refuse)
