"""gethostlatency: show the latency of host name lookups — libc's getaddrinfo(),
gethostbyname() and gethostbyname2() — one line per call (BCC's gethostlatency; built on
the trace language: uprobes keep the host name and start time per thread, uretprobes
print the latency, see :mod:`pybpf.tools.traced`). Columns as BCC's: TIME PID COMM LATms
HOST. Flags: ``-p PID`` as BCC's; ``-d DURATION`` stops, ``--json`` prints one object per
lookup."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.events import EventLayout, ToolError
from pybpf.tools.probespec import library_path
from pybpf.tools.tool import Column, write_rows
from pybpf.tools.traced import printed_events

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO, Any

FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname2")
#: an event's fields, in the program's printf order (for ``pybpf record`` too)
LAYOUT = EventLayout((("pid", "u32"), ("comm", "str:16"), ("latency_ns", "u64"), ("host", "str:64")))
COLUMNS = (Column("TIME", "_clock", -9), Column("PID", "pid", -7), Column("COMM", "comm", -16),
           Column("LATms", "latms", 10), Column("HOST", "host", -1))


class Gethostlatency:
    """The gethostlatency tool."""

    name = "gethostlatency"
    description = DESCRIPTIONS["gethostlatency"]
    layout = LAYOUT

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-p", "--pid", type=int, help="trace this PID only")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per lookup")
        programflags.add_arguments(parser)

    def program(self, args: argparse.Namespace) -> str:
        from pybpf.symbols import ElfSymbols

        libc = library_path("c", args.pid)
        present = [f for f in FUNCTIONS if ElfSymbols.cached(libc).address(f)]
        if not present:
            raise ToolError(f"{libc} has none of {', '.join(FUNCTIONS)}")
        when = f"/pid == {args.pid}/ " if args.pid else ""
        return (",".join(f"uprobe:{libc}:{f}" for f in present) +
                f" {when}{{ @start[tid] = nsecs; @host[tid] = str(arg0); }}\n" +
                ",".join(f"uretprobe:{libc}:{f}" for f in present) +
                " /@start[tid]/ { printf(\"%d %s %d %s %d\", pid, comm, nsecs - @start[tid], @host[tid], nsecs); "
                "delete(@start[tid]); delete(@host[tid]); }\n")

    def events(self, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
        """One event per lookup: pid, comm, latency_ns, host (and ts, time)."""
        return printed_events(self.program(args), [name for name, _ in LAYOUT.fields], name=self.name, pid=args.pid,
                              duration=args.duration, flags=args)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        if args.ebpf:                   # the program instead of the header and rows
            raise programflags.ProgramShown(self.program(args))
        rows = self.events(args) if args.json else ({**event, "latms": f"{event['latency_ns'] / 1e6:.2f}"}
                                                     for event in self.events(args))
        write_rows(rows, COLUMNS, out, as_json=args.json)
        return 0


TOOL = Gethostlatency()
