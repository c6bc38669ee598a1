"""opensnoop: trace file opens (BCC's opensnoop, on the syscalls:sys_enter/sys_exit
tracepoints of open, openat and openat2; built on pybpf's own API, see
:mod:`pybpf.tools.pathcalls`). Columns: PID COMM FD ERR PATH."""

from __future__ import annotations

from pybpf.tools import pathcalls
from pybpf.tools.tool import Column, EventTool

SYSCALLS = ("open", "openat", "openat2")

TOOL = EventTool(
    name="opensnoop",
    description="Trace open() calls (open, openat, openat2) with their paths and results.",
    layout=pathcalls.LAYOUT,
    source=lambda args: pathcalls.source(SYSCALLS),
    columns=(Column("PID", "pid", -7), Column("COMM", "comm", -16), Column("FD", "fd", 3),
             Column("ERR", "err", 3), Column("PATH", "path", -1)),
    derive=pathcalls.deriver(SYSCALLS),
    failed=lambda event: event["ret"] < 0,
)
