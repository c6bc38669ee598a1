"""What the TCP tools (tcpstates, tcpconnect, tcpaccept, tcplife, tcpretrans) share: the
kernel's TCP state names, the C that reads a TCP tracepoint's fields and copies its
ports and addresses into the event, and the rendering of an event's raw address bytes as text."""

from __future__ import annotations

STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
          7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV"}

#: the endpoint fields of sock:inet_sock_set_state and tcp:tcp_retransmit_skb, which
#: :data:`TRACEPOINT_C` reads
ENDPOINT_FIELDS = ("family", "sport", "dport", "saddr", "daddr", "saddr_v6", "daddr_v6")

#: C for a program on a TCP tracepoint: ``FIELD(type, name)`` reads the record's field at
#: ``OFF_name`` (compiled in: see :func:`field_offsets`), and ``copy_endpoints`` fills the
#: event's ``family``, ``sport``, ``dport`` and 16-byte ``saddr``/``daddr`` (an IPv4
#: address in the first 4)
TRACEPOINT_C = r"""
#define FIELD(type, name) (*(type *)((char *)ctx + OFF_##name))

static __always_inline void copy_endpoints(void *ctx, struct event *e)
{
    e->family = FIELD(u16, family);
    e->sport = FIELD(u16, sport);
    e->dport = FIELD(u16, dport);
    if (e->family == 2 /* AF_INET */) {
        __builtin_memcpy(e->saddr, (char *)ctx + OFF_saddr, 4);
        __builtin_memcpy(e->daddr, (char *)ctx + OFF_daddr, 4);
    } else {
        __builtin_memcpy(e->saddr, (char *)ctx + OFF_saddr_v6, 16);
        __builtin_memcpy(e->daddr, (char *)ctx + OFF_daddr_v6, 16);
    }
}
"""


def field_offsets(tracepoint: str, fields: tuple[str, ...]) -> dict[str, int]:
    """``OFF_name`` defines for :data:`TRACEPOINT_C`: the offsets of ``fields`` and of the
    endpoint fields in ``tracepoint``'s record, from tracefs."""
    from pybpf.tools.events import offset

    return {f"OFF_{name}": offset(tracepoint, name) for name in dict.fromkeys(fields + ENDPOINT_FIELDS)}


def addresses(event: dict) -> None:
    """``saddr``/``daddr`` (16 raw bytes as hex, the first 4 for IPv4) as text, and
    ``ip`` (4 or 6) from ``family``."""
    import ipaddress  # per event: not for ``pybpf tool --list``, which imports every tool
    import socket

    v4 = event["family"] == socket.AF_INET
    for key in ("saddr", "daddr"):
        raw = bytes.fromhex(event[key])
        event[key] = str(ipaddress.IPv4Address(raw[:4]) if v4 else ipaddress.IPv6Address(raw))
    event["ip"] = 4 if v4 else 6


def ports(text: str) -> frozenset[int]:
    """An argparse type: comma-separated port numbers (BCC's ``-P 80,81``)."""
    import argparse

    try:
        found = frozenset(int(port) for port in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: ports are numbers separated by commas") from None
    if not all(0 < port < 65536 for port in found):
        raise argparse.ArgumentTypeError(f"{text!r}: ports are 1 to 65535")
    return found


def family_arguments(parser) -> None:
    """BCC's ``-4``/``-6``: one address family only."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-4", "--ipv4", action="store_true", help="IPv4 only")
    group.add_argument("-6", "--ipv6", action="store_true", help="IPv6 only")


def family_wanted(args, event: dict) -> bool:
    """Whether ``event`` passes ``-4``/``-6``."""
    return not (getattr(args, "ipv4", False) and event["ip"] != 4 or getattr(args, "ipv6", False) and event["ip"] != 6)


def session_arguments(parser) -> None:
    """tcplife's and tcpstates' flags (BCC's): ``-w`` wide columns, ``-s`` CSV, ``-L``/``-D``
    local/remote ports, ``-4``/``-6``."""
    parser.add_argument("-w", "--wide", action="store_true", help="wide columns (fit IPv6 addresses), with IP")
    parser.add_argument("-s", "--csv", action="store_true", help="comma-separated values")
    parser.add_argument("-L", "--localport", type=ports, help="only these local ports (comma-separated)")
    parser.add_argument("-D", "--remoteport", type=ports, help="only these remote ports (comma-separated)")
    family_arguments(parser)


def session_wanted(args, event: dict) -> bool:
    """Whether ``event`` passes :func:`session_arguments`' filters."""
    return (family_wanted(args, event) and (args.localport is None or event["sport"] in args.localport)
            and (args.remoteport is None or event["dport"] in args.remoteport))
