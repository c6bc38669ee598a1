"""bitesize: block I/O sizes as a histogram per command (BCC's bitesize, on the
block:block_rq_issue tracepoint, its comm field naming the issuing command; built on
pybpf's own API, histograms through pybpf.output). BCC's bitesize prints once, at Ctrl-C;
here also ``interval`` and ``count``, ``-d`` seconds, ``-T`` and ``--json``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.csnippets import LOG2_SLOT, MAP_ADD
from pybpf.tools.events import offset
from pybpf.tools.histlayout import add_layout_argument, render
from pybpf.tools.latency import buckets
from pybpf.tools.loading import running
from pybpf.tools.status import interval_arguments, report_intervals

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
""" + MAP_ADD + r"""struct skey { char comm[16]; u32 slot; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct skey); __type(value, u64); } dist SEC(".maps");
""" + LOG2_SLOT + r"""
SEC("tracepoint/block/block_rq_issue")
int on_issue(void *ctx)
{
    struct skey key = { .slot = log2_slot(*(u32 *)((char *)ctx + OFF_bytes) / 1024) };
    __builtin_memcpy(key.comm, (char *)ctx + OFF_comm, sizeof(key.comm));
    map_add(&dist, &key, 1);
    return 0;
}
LICENSE("GPL");
"""


def _text(comm: bytes | str) -> str:
    return comm.split(b"\0", 1)[0].decode(errors="replace") if isinstance(comm, bytes) else comm.split("\0", 1)[0]


class BiteSize:
    """The bitesize tool."""

    name = "bitesize"
    description = DESCRIPTIONS["bitesize"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        interval_arguments(parser)
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        programflags.add_arguments(parser)
        add_layout_argument(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        defines = {"OFF_bytes": offset("block:block_rq_issue", "bytes"), "OFF_comm": offset("block:block_rq_issue", "comm")}
        with running(SOURCE, name="bitesize", defines=defines, flags=args) as loaded:
            dist = loaded.maps["dist"]
            report_intervals(loaded, args, out, banner="Tracing block I/O... Hit Ctrl-C to end.",
                             report=lambda: self._report(dist, args, out), counted=lambda: sum(dist.values()), what="I/Os")
        return 0

    def _report(self, dist, args: argparse.Namespace, out: IO[str]) -> None:
        from pybpf.output import Histogram

        per_command: dict[str, Histogram] = {}
        for key, count in dist.items():
            histogram = per_command.setdefault(_text(key.comm), Histogram())
            histogram.counts[key.slot] = histogram.counts.get(key.slot, 0) + count
        dist.clear()
        if args.json:
            out.write(json.dumps({"time": time.time(), "unit": "Kbytes", "histograms": [
                {"comm": comm, "buckets": buckets(per_command[comm])} for comm in sorted(per_command)]}) + "\n")
        else:
            if args.timestamp:
                out.write(time.strftime("%H:%M:%S") + "\n")
            for comm in sorted(per_command):
                out.write(f"\nProcess Name = {comm}\n{render(per_command[comm], args, 'Kbytes')}")
        out.flush()


TOOL = BiteSize()
