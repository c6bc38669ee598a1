"""Trace new programs as they start (exec), like BCC's execsnoop.

    sudo python examples/execsnoop.py [--duration SECONDS]

A program on sched:sched_process_exec copies the pid, command and file name into a ring
buffer; the file name's place in the record comes from the tracepoint's tracefs format
and is compiled in (the verifier wants constant offsets into a tracepoint record).
"""

from __future__ import annotations

import argparse
import struct

from pybpf.engine import load
from pybpf.kernel.attach import attach
from pybpf.kernel.ringbuf import EventPoller, RingBuffer
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c
from pybpf.tracefs import Tracefs

SOURCE = r"""
#include <pybpf/bpf.h>

struct event { u32 pid; u32 ppid_unused; char comm[16]; char filename[128]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 18); } events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    u32 loc = *(u32 *)((char *)ctx + FILENAME_LOCATOR);          /* __data_loc: length << 16 | offset */
    bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + (loc & 0xffff));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""
EVENT = struct.Struct("<II16s128s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    offset = Tracefs().format("sched:sched_process_exec").field("filename").offset
    spec = load_object(compile_c(SOURCE, defines={"FILENAME_LOCATOR": offset}), name="execsnoop")

    def text(raw: bytes) -> str:
        return raw.split(b"\0", 1)[0].decode(errors="replace")

    def show(record: bytes) -> None:
        pid, _, comm, filename = EVENT.unpack_from(record)
        print(f"{pid:<8} {text(comm):<16} {text(filename)}", flush=True)

    with load(spec, engine="kernel") as loaded, attach(loaded.programs["on_exec"]), \
            RingBuffer.of(loaded.maps["events"]) as ring, EventPoller() as poller:
        poller.add_ring_buffer(ring, show)
        print(f"{'PID':<8} {'COMM':<16} FILENAME", flush=True)
        poller.run(args.duration)


if __name__ == "__main__":
    main()
