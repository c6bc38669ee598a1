"""oomkill: one line per out-of-memory kill — BCC's oomkill, which hooks
oom_kill_process() with a kprobe; here the oom:mark_victim tracepoint (hit as the killer
marks its victim, in the task whose allocation failed) gives the victim's pid, command and
memory, and the current task is the trigger. Built on pybpf's own API. Prints BCC's line,
``HH:MM:SS Triggered by PID … ("…"), OOM kill of PID … ("…"), N pages, loadavg: …`` with
the victim's total virtual memory in pages for BCC's limit in pages (the tracepoint does not
carry the OOM control's page total)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import EventTool

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

FIELDS = ("pid", "comm", "total_vm", "anon_rss", "file_rss", "shmem_rss", "uid")

SOURCE = r"""
#define FIELD(type, name) (*(type *)((char *)ctx + OFF_##name))

SEC("tracepoint/oom/mark_victim")
int on_victim(void *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->tpid = FIELD(s32, pid);
    e->total_vm_kb = FIELD(u64, total_vm);
    e->anon_rss_kb = FIELD(u64, anon_rss);
    e->file_rss_kb = FIELD(u64, file_rss);
    e->shmem_rss_kb = FIELD(u64, shmem_rss);
    e->uid = FIELD(u32, uid);
    u32 loc = FIELD(u32, comm);                          /* __data_loc: length << 16 | offset */
    bpf_probe_read_kernel_str(e->tcomm, sizeof(e->tcomm), (char *)ctx + (loc & 0xffff));
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

LAYOUT = EventLayout((("pid", "u32"), ("tpid", "s32"), ("uid", "u32"), ("total_vm_kb", "u64"), ("anon_rss_kb", "u64"),
                      ("file_rss_kb", "u64"), ("shmem_rss_kb", "u64"), ("comm", "str:16"), ("tcomm", "str:16")))


def _derive(event: dict) -> None:
    event["pages"] = event["total_vm_kb"] * 1024 // os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/loadavg") as file:
            event["loadavg"] = file.read().strip()
    except OSError:
        event["loadavg"] = ""


EVENTS = EventTool(
    name="oomkill",
    description=DESCRIPTIONS["oomkill"],
    layout=LAYOUT,
    source=SOURCE,
    columns=(),
    defines=lambda args: {f"OFF_{name}": offset("oom:mark_victim", name) for name in FIELDS},
    derive=_derive,
)


class OomKill:
    """oomkill: the event tool's events, printed as BCC's sentence."""

    name = EVENTS.name
    description = EVENTS.description
    add_arguments = EVENTS.add_arguments
    layout = EVENTS.layout              # for `pybpf record`
    events = EVENTS.events

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        if not args.json and not args.ebpf:
            out.write("Tracing OOM kills... Ctrl-C to stop.\n")
            out.flush()
        for event in self.events(args):
            if args.json:
                out.write(json.dumps(event) + "\n")
            else:
                out.write(f"{time.strftime('%H:%M:%S', time.localtime(event['time']))} Triggered by PID {event['pid']} "
                          f"(\"{event['comm']}\"), OOM kill of PID {event['tpid']} (\"{event['tcomm']}\"), "
                          f"{event['pages']} pages, loadavg: {event['loadavg']}\n")
            out.flush()
        return 0


TOOL = OomKill()
