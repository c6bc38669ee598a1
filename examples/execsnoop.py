"""Trace new programs as they start (exec), like BCC's execsnoop.

    sudo python examples/execsnoop.py [--duration SECONDS]

A program on sched:sched_process_exec copies the pid, command and file name into a ring
buffer; the file name's place in the record comes from the kernel's BTF description of
the record (``struct trace_event_raw_sched_process_exec``, relocated by CO-RE). Each
record is decoded through the program's own BTF description of ``struct event``, so the
fields read by name (``e.pid``, ``e.comm``) with no format string kept in step with C.
"""

from __future__ import annotations

import argparse
import sys

import pybpf

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct event { u32 pid; u32 ppid_unused; char comm[16]; char filename[128]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 18); } events SEC(".maps");
/* names struct event in the object's BTF, for Python to decode records with */
const struct event *const event_type __attribute__((used)) = 0;

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    /* __data_loc: length << 16 | offset of the string in the record (the field's place
       comes from the kernel's BTF, relocated by CO-RE) */
    u32 loc = BPF_CORE_READ(ctx, __data_loc_filename);
    bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + (loc & 0xffff));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    with pybpf.load(pybpf.read(SOURCE, name="execsnoop"), engine="kernel") as coll, \
            coll.programs["on_exec"].attach(), \
            pybpf.Events(coll.maps["events"], decode=coll.decoder("struct event")) as events:
        print(f"{'PID':<8} {'COMM':<16} FILENAME", flush=True)
        events.run(lambda e: print(f"{e.value.pid:<8} {e.value.comm:<16} {e.value.filename}", flush=True),
                   args.duration)


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
