"""opensnoop: trace file opens (BCC's opensnoop, on the syscalls:sys_enter/sys_exit
tracepoints of open, openat and openat2; built on pybpf's own API, see
:mod:`pybpf.tools.pathcalls`). Columns: PID COMM FD ERR PATH; BCC's ``-e`` (FLAGS and MODE
columns, octal), ``-f O_FLAG`` (only opens with one of these flags), ``-U``/``-u UID``,
its ``-t TID`` as ``--tid`` (``-t`` is the timestamp column here), ``-F`` (a relative path
shown after the directory it starts from: the current one, or the one open at openat's
``dfd`` where BCC always takes the current one; ``dir`` in ``--json``) and ``-b PAGES`` (the
ring buffer's size in pages, a power of two; 1 MiB without it)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from pybpf.tools import DESCRIPTIONS, pathcalls
from pybpf.tools.events import EventLayout
from pybpf.tools.tool import Column, EventTool

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

SYSCALLS = ("open", "openat", "openat2")
_call_fields = pathcalls.deriver(SYSCALLS)


def open_flag(text: str) -> int:
    """An argparse type: an ``O_`` flag's value (BCC's ``-f O_WRONLY``)."""
    value = getattr(os, text, None) if text.startswith("O_") else None
    if not isinstance(value, int):
        raise argparse.ArgumentTypeError(f"{text!r} is not an open flag such as O_WRONLY or O_CREAT")
    return value


def buffer_pages(text: str) -> int:
    """An argparse type: BCC's ``-b``, a power of two number of pages."""
    try:
        pages = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pages") from None
    if pages < 1 or pages & (pages - 1):
        raise argparse.ArgumentTypeError(f"{pages} pages: the ring buffer needs a power of two")
    return pages


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tid", type=int, help="only this thread id (BCC's -t), shown in a TID column")
    parser.add_argument("-e", "--extended_fields", action="store_true", help="show the FLAGS and MODE columns")
    parser.add_argument("-f", "--flag_filter", type=open_flag, action="append",
                        help="only opens with this flag (e.g. O_WRONLY; repeat for any of several)")
    parser.add_argument("-F", "--full-path", action="store_true",
                        help="show a relative path after the directory it starts from")
    parser.add_argument("-b", "--buffer-pages", type=buffer_pages,
                        help="the ring buffer's size in pages (a power of two; default 1 MiB)")


def _keep(args: argparse.Namespace, event: dict) -> bool:
    mask = 0
    for flag in args.flag_filter or ():
        mask |= flag
    return (args.tid is None or event["tid"] == args.tid) and (not mask or bool(event["flags"] & mask))


def _defines(args: argparse.Namespace) -> dict[str, int]:
    return {} if args.buffer_pages is None else {"EVENTS_RING_BYTES": args.buffer_pages * os.sysconf("SC_PAGE_SIZE")}


def _derive(event: dict) -> None:
    _call_fields(event)
    event["flags_octal"] = f"{event['flags']:08o}"
    # the mode counts only when the flags create a file (open(2))
    creates = event["flags"] & os.O_CREAT or event["flags"] & os.O_TMPFILE == os.O_TMPFILE
    event["mode_octal"] = f"{event['mode']:04o}" if event["mode"] or creates else "n/a"


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    """BCC's columns and widths (``%-6s %-16s %4s %3s``)."""
    return (Column("TID" if args.tid is not None else "PID", "tid" if args.tid is not None else "pid", -6),
            Column("COMM", "comm", -16), Column("FD", "fd", 4), Column("ERR", "err", 3),
            *((Column("FLAGS", "flags_octal", -8), Column("MODE", "mode_octal", -4)) if args.extended_fields else ()),
            Column("PATH", "path", -1))


def _event_tool(layout: EventLayout, full_path: bool) -> EventTool:
    return EventTool(
        name="opensnoop",
        description=DESCRIPTIONS["opensnoop"],
        layout=layout,
        source=lambda args: pathcalls.source(SYSCALLS, full_path=full_path),
        columns=_columns,
        defines=_defines,
        derive=_derive,
        failed=lambda event: event["ret"] < 0,
        keep=_keep,
        extra_arguments=_arguments,
        task_filters=True,          # BCC's --cgroupmap, --mntnsmap
    )


class _OpenSnoop:
    """opensnoop: its events carry the directory's names only with ``-F`` (4 KiB more
    each), so each run is one of two event tools; ``layout`` (what ``pybpf record``
    writes) is the fields both have."""

    plain = _event_tool(pathcalls.LAYOUT, full_path=False)
    full = _event_tool(pathcalls.FULL_LAYOUT, full_path=True)
    name, description, layout = plain.name, plain.description, plain.layout

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self.plain.add_arguments(parser)

    def _tool(self, args: argparse.Namespace) -> EventTool:
        return self.full if args.full_path else self.plain

    def events(self, args: argparse.Namespace) -> Iterator[dict]:
        return self._tool(args).events(args)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        return self._tool(args).run(args, out)


TOOL = _OpenSnoop()
