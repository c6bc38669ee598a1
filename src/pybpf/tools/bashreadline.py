"""bashreadline: print the command lines bash reads, as they are entered, system wide
(BCC's bashreadline; built on the trace language: a uretprobe on bash's ``readline``
prints the returned line, see :mod:`pybpf.tools.traced`). Columns as BCC's: TIME PID
COMMAND. Flags: ``-s SHARED`` (the library or binary with ``readline``; default: bash
itself, which exports it on Debian, else libreadline) as BCC's; ``-d DURATION`` stops,
``--json`` prints one object per line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, ToolError
from pybpf.tools.probespec import library_path
from pybpf.tools.tool import Column, write_rows
from pybpf.tools.traced import printed_events

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO, Any

#: an event's fields, in the program's printf order (for ``pybpf record`` too)
LAYOUT = EventLayout((("pid", "u32"), ("command", "str:64")))
COLUMNS = (Column("TIME", "_clock", -9), Column("PID", "pid", -7), Column("COMMAND", "command", -1))


def readline_binary(shared: str | None) -> str:
    """Where ``readline`` is: the -s library, bash, or libreadline."""
    import shutil  # with zlib, bz2 and lzma: not for ``pybpf tool --list``

    from pybpf.symbols import ElfSymbols, SymbolError

    candidates = [shared] if shared else [shutil.which("bash") or "/bin/bash", "readline"]
    for candidate in candidates:
        try:
            path = library_path(candidate)
            if ElfSymbols.cached(path).address("readline"):
                return path
        except (ToolError, SymbolError):
            continue
    raise ToolError(f"no readline function in {' or '.join(candidates)} (give the library with -s)")


class Bashreadline:
    """The bashreadline tool."""

    name = "bashreadline"
    description = DESCRIPTIONS["bashreadline"]
    layout = LAYOUT

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-s", "--shared", help="the readline library (or binary) to probe")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per command line")

    def events(self, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
        """One event per line bash read: pid, command (and ts, time)."""
        source = (f"uretprobe:{readline_binary(args.shared)}:readline /comm == \"bash\" && retval/ "
                  "{ printf(\"%d %s %d\", pid, str(retval), nsecs); }\n")
        return printed_events(source, [name for name, _ in LAYOUT.fields], name=self.name, duration=args.duration)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        write_rows(self.events(args), COLUMNS, out, as_json=args.json)
        return 0


TOOL = Bashreadline()
