"""biosnoop: one line per block I/O as it completes — issuing task, disk, direction,
sector, size and latency (BCC's biosnoop, on the block_rq_insert, block_rq_issue and
block_rq_complete tracepoints through :mod:`pybpf.tools.blockio`; built on pybpf's own
API). Columns: TIME(s) COMM PID DISK T SECTOR BYTES [P] [QUE(ms)] LAT(ms); ``-Q`` adds the
time queued in the OS, ``-P`` the pattern (S sequential, R random), ``-d DISK`` one disk.
T is the rwbs flags' direction: R read, W write, D discard, F flush."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.blockio import TRACKING, defines, disk_name, rwbs_text
from pybpf.tools.events import EventLayout
from pybpf.tools.tool import Column, EventTool

SOURCE = TRACKING + r"""
static __always_inline void completed(void *ctx, struct rqkey *key, struct rqstart *start, u64 now)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return;
    e->ts = now;
    e->pid = start->pid;
    e->dev = key->dev;
    e->sector = key->sector;
    e->bytes = start->bytes;
    e->pattern = start->pattern;
    e->queue_ns = start->insert_ts ? start->issue_ts - start->insert_ts : 0;
    e->latency_ns = now - start->issue_ts;
    __builtin_memcpy(e->comm, start->comm, sizeof(e->comm));
    __builtin_memcpy(e->rwbs, (char *)ctx + OFF_block_rq_complete_rwbs, sizeof(e->rwbs));
    bpf_ringbuf_submit(e, 0);
}
LICENSE("GPL");
"""

LAYOUT = EventLayout((("pid", "u32"), ("dev", "u32"), ("sector", "u64"), ("bytes", "u32"), ("pattern", "u32"),
                      ("queue_ns", "u64"), ("latency_ns", "u64"), ("comm", "str:16"), ("rwbs", "str:8")))


def _derive(event: dict) -> None:
    event["disk"] = disk_name(event["dev"])
    event["rwbs"] = rwbs_text(event["rwbs"])
    event["type"] = next((flag for flag in event["rwbs"] if flag in "RWDF"), "?")
    event["pattern_text"] = {1: "S", 2: "R"}.get(event["pattern"], "?")
    event["que_ms"] = f"{event['queue_ns'] / 1e6:7.2f}"
    event["lat_ms"] = f"{event['latency_ns'] / 1e6:7.2f}"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-Q", "--queue", action="store_true", help="include the time queued in the OS")
    parser.add_argument("--disk", help="only this disk (e.g. vda; BCC's -d, which is --duration here)")
    parser.add_argument("-P", "--pattern", action="store_true", help="show the I/O pattern (sequential or random)")


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("TIME(s)", "_elapsed", -11), Column("COMM", "comm", -14), Column("PID", "pid", -7),
            Column("DISK", "disk", -9), Column("T", "type", -1), Column("SECTOR", "sector", -10),
            Column("BYTES", "bytes", -7), *((Column("P", "pattern_text", -1),) if args.pattern else ()),
            *((Column("QUE(ms)", "que_ms", 7),) if args.queue else ()), Column("LAT(ms)", "lat_ms", 7))


TOOL = EventTool(
    name="biosnoop",
    description=DESCRIPTIONS["biosnoop"],
    layout=LAYOUT,
    source=SOURCE,
    columns=_columns,
    defines=lambda args: defines(args, queued=args.queue),
    derive=_derive,
    extra_arguments=_arguments,
)
