"""opensnoop: trace file opens (BCC's opensnoop, on the syscalls:sys_enter/sys_exit
tracepoints of open, openat and openat2; built on pybpf's own API, see
:mod:`pybpf.tools.pathcalls`). Columns: PID COMM FD ERR PATH; BCC's ``-e`` (FLAGS and MODE
columns, octal), ``-f O_FLAG`` (only opens with one of these flags), ``-U``/``-u UID``,
and its ``-t TID`` as ``--tid`` (``-t`` is the timestamp column here)."""

from __future__ import annotations

import argparse
import os

from pybpf.tools import pathcalls
from pybpf.tools.tool import Column, EventTool

SYSCALLS = ("open", "openat", "openat2")
_call_fields = pathcalls.deriver(SYSCALLS)


def open_flag(text: str) -> int:
    """An argparse type: an ``O_`` flag's value (BCC's ``-f O_WRONLY``)."""
    value = getattr(os, text, None) if text.startswith("O_") else None
    if not isinstance(value, int):
        raise argparse.ArgumentTypeError(f"{text!r} is not an open flag such as O_WRONLY or O_CREAT")
    return value


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tid", type=int, help="only this thread id (BCC's -t), shown in a TID column")
    parser.add_argument("-e", "--extended_fields", action="store_true", help="show the FLAGS and MODE columns")
    parser.add_argument("-f", "--flag_filter", type=open_flag, action="append",
                        help="only opens with this flag (e.g. O_WRONLY; repeat for any of several)")


def _keep(args: argparse.Namespace, event: dict) -> bool:
    mask = 0
    for flag in args.flag_filter or ():
        mask |= flag
    return (args.tid is None or event["tid"] == args.tid) and (not mask or bool(event["flags"] & mask))


def _derive(event: dict) -> None:
    _call_fields(event)
    event["flags_octal"] = f"{event['flags']:08o}"
    # the mode counts only when the flags create a file (open(2))
    creates = event["flags"] & os.O_CREAT or event["flags"] & os.O_TMPFILE == os.O_TMPFILE
    event["mode_octal"] = f"{event['mode']:04o}" if event["mode"] or creates else "n/a"


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("TID", "tid", -6) if args.tid is not None else Column("PID", "pid", -7),
            Column("COMM", "comm", -16), Column("FD", "fd", 3), Column("ERR", "err", 3),
            *((Column("FLAGS", "flags_octal", -8), Column("MODE", "mode_octal", -4)) if args.extended_fields else ()),
            Column("PATH", "path", -1))


TOOL = EventTool(
    name="opensnoop",
    description="Trace open() calls (open, openat, openat2) with their paths and results.",
    layout=pathcalls.LAYOUT,
    source=lambda args: pathcalls.source(SYSCALLS),
    columns=_columns,
    derive=_derive,
    failed=lambda event: event["ret"] < 0,
    keep=_keep,
    extra_arguments=_arguments,
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)
