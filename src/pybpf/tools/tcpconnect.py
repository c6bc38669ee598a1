"""tcpconnect: trace active TCP connections (connect()) — BCC's tcpconnect, on the
sock:inet_sock_set_state tracepoint's move to SYN_SENT (which runs in the connecting
task), sharing tcpstates' program. Columns: PID COMM IP SADDR DADDR DPORT."""

from __future__ import annotations

from pybpf.tools.tcpstates import LAYOUT, SOURCE, defines, derive
from pybpf.tools.tool import Column, EventTool

TOOL = EventTool(
    name="tcpconnect",
    description="Trace TCP active connections (connect()).",
    layout=LAYOUT,
    source=SOURCE,
    columns=(Column("PID", "pid", -7), Column("COMM", "comm", -16), Column("IP", "ip", -2),
             Column("SADDR", "saddr", -16), Column("DADDR", "daddr", -16), Column("DPORT", "dport", -1)),
    defines=lambda args: defines(True),
    derive=derive,
)
