"""tcpconnect: trace active TCP connections (connect()) — BCC's tcpconnect, on the
sock:inet_sock_set_state tracepoint, sharing tcpstates' program: the move to SYN_SENT
(which runs in the connecting task) names the process, and the move out of SYN_SENT (to
ESTABLISHED, or CLOSE when refused), where the local port is known, reports the connect
— so a connect shows up once answered, with the time it waited in ``ms`` (BCC's
tcpconnlat's latency). Columns: PID COMM IP SADDR DADDR DPORT; flags as
BCC's: ``-P PORTS`` (destination ports), ``-L`` (LPORT column), ``-U`` (UID column), ``-u
UID``, ``-4``/``-6``, ``-c`` (connects per source, destination and port, at the end; a status
line on a terminal meanwhile),
BCC's ``-d`` as ``--dns`` (``-d`` is the duration here; a QUERY column: the name whose DNS answer gave the destination address, read from
the answers processes receive — see :mod:`pybpf.tools.dnsanswers`; as BCC, "localhost" for
127.0.0.1 and ::1 unanswered, "No DNS Query" for other addresses, and the time since the
answer after the name when the connect came more than 100 ms later). ``--json`` with ``--dns``
adds ``query`` (the name, or null) and ``query_ms``."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS, dnsanswers
from pybpf.tools.events import ToolError, offset
from pybpf.tools.inet import family_arguments, family_wanted, ports
from pybpf.tools.tcpstates import LAYOUT, SOURCE, defines, derive
from pybpf.tools.tool import Column, CountedTool, EventTool

#: BCC's DELAY_DNS: a longer wait between the answer and the connect is shown
DNS_DELAY_MS = 100


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--port", type=ports, help="only these destination ports (comma-separated)")
    parser.add_argument("-L", "--lport", action="store_true", help="include LPORT on output")
    parser.add_argument("-c", "--count", action="store_true", help="count connects per source ip and destination ip/port")
    parser.add_argument("--dns", action="store_true", help="include the DNS query that likely led to each connect")
    family_arguments(parser)


def _side_rings(args: argparse.Namespace) -> dict:
    """With ``--dns``, a fresh :class:`~pybpf.tools.dnsanswers.DnsNames` for this run (kept
    in ``args.dns_names`` for :func:`_keep`) is fed the ``dns`` ring buffer's records."""
    if not args.dns:
        return {}
    args.dns_names = dnsanswers.DnsNames()
    return {"dns": args.dns_names.add_record}


def _query(args: argparse.Namespace, event: dict) -> None:
    """``query`` and ``query_ms`` (the name answered for the destination, and how long
    before the connect call), and the QUERY column's text."""
    started = event["ts"] - event["delta_ns"]                  # the move to SYN_SENT: the connect call
    found = args.dns_names.lookup(event["daddr"], started)
    event["query"], event["query_ms"] = (found[0], round(max(0, started - found[1]) / 1e6, 3)) if found else (None, None)
    if found is None:
        event["query_shown"] = "localhost" if event["daddr"] in ("127.0.0.1", "::1") else "No DNS Query"
    else:
        late = event["query_ms"] > DNS_DELAY_MS
        event["query_shown"] = found[0] + (f" ({event['query_ms']:.3f}ms)" if late else "")


def _keep(args: argparse.Namespace, event: dict) -> bool:
    if not (family_wanted(args, event) and (args.port is None or event["dport"] in args.port)):
        return False
    if args.dns:
        _query(args, event)
    return True


def _source(args: argparse.Namespace) -> str:
    return SOURCE + (dnsanswers.SOURCE if args.dns else "")


def _defines(args: argparse.Namespace) -> dict[str, int]:
    if not args.dns:
        return defines(True)
    return {**defines(True), **dnsanswers.DEFINES, "SKBADDR_OFFSET": offset(dnsanswers.TRACEPOINT, "skbaddr")}


def _refuse(args: argparse.Namespace) -> None:
    if args.count and args.dns:
        raise ToolError("--dns cannot go with -c/--count (as in BCC): the counts have no query column")


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("PID", "pid", -7), Column("COMM", "comm", -12), Column("IP", "ip", -2), Column("SADDR", "saddr", -16),
            *((Column("LPORT", "sport", -6),) if args.lport else ()), Column("DADDR", "daddr", -16),
            Column("DPORT", "dport", -6 if args.dns else -1), *((Column("QUERY", "query_shown", -1),) if args.dns else ()))


EVENTS = EventTool(
    name="tcpconnect",
    description=DESCRIPTIONS["tcpconnect"],
    layout=LAYOUT,
    source=_source,
    columns=_columns,
    defines=_defines,
    derive=derive,
    keep=_keep,
    extra_arguments=_arguments,
    side_rings=_side_rings,
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)

TOOL = CountedTool(EVENTS, keys=(Column("LADDR", "saddr", -25), Column("RADDR", "daddr", -25),
                                 Column("RPORT", "dport", -20)),
                   json_keys=("saddr", "daddr", "dport"), count=Column("CONNECTS", "connects", -10),
                   banner="Tracing connect ... Hit Ctrl-C to end", descending=True, refuse=_refuse)
