"""What the block I/O tools (biosnoop, biolatency, bitesize) share: the block
tracepoints' field offsets, disks by name and number, and the C that follows a request
from block_rq_insert (queued, for ``-Q``) through block_rq_issue (sent to the device) to
block_rq_complete. Tracepoints name a request by (device, sector), not by its address, so
that pair is the key; at completion ``completed()``, which each tool defines, gets the
request's times, issuing task and size."""

from __future__ import annotations

import argparse
from functools import lru_cache

from pybpf.tools.events import ToolError, offset

#: the fields read, by tracepoint (block_rq_insert has block_rq_issue's layout)
FIELDS = {"block_rq_issue": ("dev", "sector", "bytes", "rwbs", "comm"),
          "block_rq_insert": ("dev", "sector"),
          "block_rq_complete": ("dev", "sector", "nr_sector", "rwbs")}

TRACKING = r"""
struct rqkey { u32 dev; u32 pad; u64 sector; };
struct rqstart { u64 insert_ts; u64 issue_ts; u32 pid; u32 bytes; u32 pattern; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct rqkey); __type(value, struct rqstart); } started SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, u32); __type(value, u64); } next_sector SEC(".maps");

#define TP(type, tp, name) (*(type *)((char *)ctx + OFF_##tp##_##name))

static __always_inline void completed(void *ctx, struct rqkey *key, struct rqstart *start, u64 now);

SEC("tracepoint/block/block_rq_insert")
int on_insert(void *ctx)
{
    if (!BLOCK_QUEUED)
        return 0;
    struct rqkey key = { .dev = TP(u32, block_rq_insert, dev), .sector = TP(u64, block_rq_insert, sector) };
    if (BLOCK_DEV && key.dev != BLOCK_DEV)
        return 0;
    struct rqstart start = { .insert_ts = bpf_ktime_get_ns(), .pid = bpf_get_current_pid_tgid() >> 32 };
    bpf_get_current_comm(start.comm, sizeof(start.comm));
    bpf_map_update_elem(&started, &key, &start, BPF_ANY);
    return 0;
}

SEC("tracepoint/block/block_rq_issue")
int on_issue(void *ctx)
{
    struct rqkey key = { .dev = TP(u32, block_rq_issue, dev), .sector = TP(u64, block_rq_issue, sector) };
    if (BLOCK_DEV && key.dev != BLOCK_DEV)
        return 0;
    u32 bytes = TP(u32, block_rq_issue, bytes);
    u64 end = key.sector + bytes / 512, *expected = bpf_map_lookup_elem(&next_sector, &key.dev);
    u32 pattern = expected ? (*expected == key.sector ? 1 : 2) : 0;     /* sequential, random, unknown */
    bpf_map_update_elem(&next_sector, &key.dev, &end, BPF_ANY);
    struct rqstart *queued = bpf_map_lookup_elem(&started, &key);
    if (queued) {
        queued->issue_ts = bpf_ktime_get_ns();
        queued->bytes = bytes;
        queued->pattern = pattern;
        return 0;
    }
    struct rqstart start = { .issue_ts = bpf_ktime_get_ns(), .pid = bpf_get_current_pid_tgid() >> 32,
                             .bytes = bytes, .pattern = pattern };
    __builtin_memcpy(start.comm, (char *)ctx + OFF_block_rq_issue_comm, sizeof(start.comm));
    bpf_map_update_elem(&started, &key, &start, BPF_ANY);
    return 0;
}

SEC("tracepoint/block/block_rq_complete")
int on_complete(void *ctx)
{
    struct rqkey key = { .dev = TP(u32, block_rq_complete, dev), .sector = TP(u64, block_rq_complete, sector) };
    struct rqstart *start = bpf_map_lookup_elem(&started, &key);
    if (!start)
        return 0;
    if (start->issue_ts)
        completed(ctx, &key, start, bpf_ktime_get_ns());
    bpf_map_delete_elem(&started, &key);
    return 0;
}
"""


def defines(args: argparse.Namespace, *, queued: bool) -> dict[str, int]:
    """Offsets, the ``-d`` disk (0: all) and whether insertions are tracked (``-Q``)."""
    return {"BLOCK_QUEUED": int(queued), "BLOCK_DEV": device(args.disk) if getattr(args, "disk", None) else 0,
            **{f"OFF_{tracepoint}_{field}": offset(f"block:{tracepoint}", field)
               for tracepoint, fields in FIELDS.items() for field in fields}}


@lru_cache(maxsize=1)
def disks() -> dict[int, str]:
    """Block devices by the tracepoints' device number (major << 20 | minor), from
    /proc/diskstats."""
    found = {}
    with open("/proc/diskstats") as file:
        lines = file.read().splitlines()
    for line in lines:
        major, minor, name = line.split()[:3]
        found[int(major) << 20 | int(minor)] = name
    return found


def disk_name(dev: int) -> str:
    return disks().get(dev, f"{dev >> 20},{dev & 0xfffff}")


def device(name: str) -> int:
    """``--disk NAME``: the disk's device number, or a ToolError naming the disks there are."""
    for dev, known in disks().items():
        if known == name.removeprefix("/dev/"):
            return dev
    raise ToolError(f"--disk {name}: no such disk (there are {', '.join(sorted(disks().values()))})")


def rwbs_text(value: bytes | str) -> str:
    """The tracepoints' rwbs flags (``W``, ``RA``, ``FWS``...) as text."""
    if isinstance(value, str):
        return value.split("\0", 1)[0]
    return value.split(b"\0", 1)[0].decode(errors="replace")
