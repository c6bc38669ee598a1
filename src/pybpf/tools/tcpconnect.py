"""tcpconnect: trace active TCP connections (connect()) — BCC's tcpconnect, on the
sock:inet_sock_set_state tracepoint, sharing tcpstates' program: the move to SYN_SENT
(which runs in the connecting task) names the process, and the move out of SYN_SENT (to
ESTABLISHED, or CLOSE when refused), where the local port is known, reports the connect
— so a connect shows up once answered, with the time it waited in ``ms`` (BCC's
tcpconnlat's latency). Columns: PID COMM IP SADDR DADDR DPORT; flags as
BCC's: ``-P PORTS`` (destination ports), ``-L`` (LPORT column), ``-U`` (UID column), ``-u
UID``, ``-4``/``-6``, ``-c`` (connects per source, destination and port, at the end)."""

from __future__ import annotations

import argparse

from pybpf.tools.inet import family_arguments, family_wanted, ports
from pybpf.tools.tcpstates import LAYOUT, SOURCE, defines, derive
from pybpf.tools.tool import Column, CountedTool, EventTool


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-P", "--port", type=ports, help="only these destination ports (comma-separated)")
    parser.add_argument("-L", "--lport", action="store_true", help="include LPORT on output")
    parser.add_argument("-c", "--count", action="store_true", help="count connects per source ip and destination ip/port")
    family_arguments(parser)


def _keep(args: argparse.Namespace, event: dict) -> bool:
    return family_wanted(args, event) and (args.port is None or event["dport"] in args.port)


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("PID", "pid", -7), Column("COMM", "comm", -12), Column("IP", "ip", -2), Column("SADDR", "saddr", -16),
            *((Column("LPORT", "sport", -6),) if args.lport else ()), Column("DADDR", "daddr", -16),
            Column("DPORT", "dport", -1))


EVENTS = EventTool(
    name="tcpconnect",
    description="Trace TCP active connections (connect()).",
    layout=LAYOUT,
    source=SOURCE,
    columns=_columns,
    defines=lambda args: defines(True),
    derive=derive,
    keep=_keep,
    extra_arguments=_arguments,
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)

TOOL = CountedTool(EVENTS, keys=(Column("LADDR", "saddr", -25), Column("RADDR", "daddr", -25),
                                 Column("RPORT", "dport", -20)),
                   json_keys=("saddr", "daddr", "dport"), count=Column("CONNECTS", "connects", -10),
                   banner="Tracing connect ... Hit Ctrl-C to end", descending=True)
