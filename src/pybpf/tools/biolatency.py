"""biolatency: block I/O latency as a histogram — from issue to the device (or, with
``-Q``, from insertion in the OS queue) to completion (BCC's biolatency, on the block
tracepoints through :mod:`pybpf.tools.blockio`, histograms through
:mod:`pybpf.tools.latency`; built on pybpf's own API). Flags as BCC's: ``interval`` and
``count``, ``-T``, ``-m``, ``-Q``, ``-D`` a histogram per disk, ``-F`` per I/O flags (the
tracepoints' rwbs letters: W write, R read, S sync, M metadata, F flush, D discard...),
``-e`` the average, total and count, ``--disk`` one disk, ``--json``."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.blockio import TRACKING, defines, disk_name
from pybpf.tools.latency import LatencyTool

SOURCE = TRACKING + r"""
static __always_inline void completed(void *ctx, struct rqkey *key, struct rqstart *start, u64 now)
{
    u64 since = BLOCK_QUEUED && start->insert_ts ? start->insert_ts : start->issue_ts;
    u32 group = 0;
    if (PER_DISK)
        group = key->dev;
    else if (PER_FLAGS)
        __builtin_memcpy(&group, (char *)ctx + OFF_block_rq_complete_rwbs, sizeof(group));
    hist_add(group, (now - since) / UNIT_DIVISOR);
}
LICENSE("GPL");
"""


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-Q", "--queued", action="store_true", help="include the time queued in the OS")
    per = parser.add_mutually_exclusive_group()
    per.add_argument("-D", "--disks", action="store_true", help="one histogram per disk")
    per.add_argument("-F", "--flags", action="store_true", help="one histogram per set of I/O flags")
    parser.add_argument("--disk", help="only this disk (e.g. vda; BCC's -d, which is --duration here)")


def _flags(group: int) -> str:
    return group.to_bytes(4, "little").split(b"\0", 1)[0].decode(errors="replace")


def _grouping(args: argparse.Namespace):
    return ("disk", disk_name) if args.disks else ("flags", _flags) if args.flags else None


TOOL = LatencyTool(
    name="biolatency",
    description=DESCRIPTIONS["biolatency"],
    source=SOURCE,
    what="block device I/O",
    defines=lambda args: {**defines(args, queued=args.queued), "PER_DISK": int(args.disks),
                          "PER_FLAGS": int(args.flags)},
    extra_arguments=_arguments,
    grouping=_grouping,
    extension=True,
    json_flags=("-j", "--json"),
)
