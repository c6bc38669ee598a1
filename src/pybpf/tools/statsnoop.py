"""statsnoop: trace stat() calls (BCC's statsnoop, on the syscalls:sys_enter/sys_exit
tracepoints of stat, lstat, newstat, newlstat, newfstatat, statx and statfs; built on
pybpf's own API, see :mod:`pybpf.tools.pathcalls`). Columns as BCC's: PID COMM FD ERR PATH
(FD: the return value, -1 on failure, as BCC names it); BCC's
``-s`` adds SYSCALL (which call it was), ``-U``/``-u UID`` as the other snoops."""

from __future__ import annotations

from pybpf.tools import DESCRIPTIONS, pathcalls
from pybpf.tools.tool import Column, EventTool

SYSCALLS = ("stat", "lstat", "newstat", "newlstat", "newfstatat", "statx", "statfs")

TOOL = EventTool(
    name="statsnoop",
    description=DESCRIPTIONS["statsnoop"],
    layout=pathcalls.LAYOUT,
    source=lambda args: pathcalls.source(SYSCALLS),
    columns=lambda args: (Column("PID", "pid", -7), Column("COMM", "comm", -16), Column("FD", "fd", 4),
                          Column("ERR", "err", 3), *((Column("SYSCALL", "syscall", -12),) if args.sysname else ()),
                          Column("PATH", "path", -1)),
    derive=pathcalls.deriver(SYSCALLS),
    failed=lambda event: event["ret"] < 0,
    extra_arguments=lambda parser: parser.add_argument("-s", "--sysname", action="store_true",
                                                       help="include the syscall's name (SYSCALL)"),
)
