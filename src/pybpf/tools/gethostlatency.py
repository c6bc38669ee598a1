"""gethostlatency: show the latency of host name lookups — libc's getaddrinfo(),
gethostbyname() and gethostbyname2() — one line per call (BCC's gethostlatency; built on
the trace language: uprobes keep the host name and start time per thread, uretprobes
print the latency, see :mod:`pybpf.tools.traced`). Columns as BCC's: TIME PID COMM LATms
HOST. Flags: ``-p PID`` as BCC's; ``-d DURATION`` stops, ``--json`` prints one object per
lookup."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import IO

from pybpf.tools.events import ToolError, monotonic_to_wall
from pybpf.tools.probespec import library_path
from pybpf.tools.traced import TraceRun, follow

FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname2")


class Gethostlatency:
    """The gethostlatency tool."""

    name = "gethostlatency"
    description = "Show latency of host name lookups (getaddrinfo, gethostbyname) as they happen."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-p", "--pid", type=int, help="trace this PID only")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per lookup")

    def program(self, args: argparse.Namespace) -> str:
        from pybpf.symbols import ElfSymbols

        libc = library_path("c")
        present = [f for f in FUNCTIONS if ElfSymbols.cached(libc).address(f)]
        if not present:
            raise ToolError(f"{libc} has none of {', '.join(FUNCTIONS)}")
        when = f"/pid == {args.pid}/ " if args.pid else ""
        return (",".join(f"uprobe:{libc}:{f}" for f in present) +
                f" {when}{{ @start[tid] = nsecs; @host[tid] = str(arg0); }}\n" +
                ",".join(f"uretprobe:{libc}:{f}" for f in present) +
                " /@start[tid]/ { printf(\"%d %s %d %s %d\", pid, comm, nsecs - @start[tid], @host[tid], nsecs); "
                "delete(@start[tid]); delete(@host[tid]); }\n")

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        wall = monotonic_to_wall()
        with TraceRun(self.program(args), pid=args.pid, name=self.name) as run:
            if not args.json:
                out.write(f"{'TIME':<9} {'PID':<7} {'COMM':<16} {'LATms':>10} HOST\n")
                out.flush()
            for record in follow(run, args.duration):
                pid, comm, latency, host, ts = record.values
                if args.json:
                    out.write(json.dumps({"time": (int(ts) + wall) / 1e9, "pid": pid, "comm": comm,
                                          "latency_ns": latency, "host": host}) + "\n")
                else:
                    out.write(f"{time.strftime('%H:%M:%S'):<9} {pid:<7} {comm:<16} {int(latency) / 1e6:>10.2f} {host}\n")
                out.flush()
        return 0


TOOL = Gethostlatency()
