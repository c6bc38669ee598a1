"""Trace new programs as they start (exec), like BCC's execsnoop.

    sudo python examples/execsnoop.py [--duration SECONDS]

A program on sched:sched_process_exec copies the pid, command and file name into a ring
buffer; the file name's place in the record comes from the tracepoint's tracefs format
and is compiled in (the verifier wants constant offsets into a tracepoint record). Each
record is decoded through the program's own BTF description of ``struct event``, so the
fields read by name (``e.pid``, ``e.comm``) with no format string kept in step with C.
"""

from __future__ import annotations

import argparse

from pybpf.btf import BTF, Kind, decode
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
/* names struct event in the object's BTF, for Python to decode records with */
const struct event *const event_type __attribute__((used)) = 0;

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    offset = Tracefs().format("sched:sched_process_exec").field("filename").offset
    spec = load_object(compile_c(SOURCE, defines={"FILENAME_LOCATOR": offset}), name="execsnoop")

    btf = BTF.parse(spec.programs["on_exec"].btf.btf)
    event = btf.find("event", Kind.STRUCT)

    def show(record: bytes) -> None:
        e = decode(btf, event.id, record)
        print(f"{e.pid:<8} {e.comm:<16} {e.filename}", flush=True)

    with load(spec, engine="kernel") as loaded, attach(loaded.programs["on_exec"]), \
            RingBuffer.of(loaded.maps["events"]) as ring, EventPoller() as poller:
        poller.add_ring_buffer(ring, show)
        print(f"{'PID':<8} {'COMM':<16} FILENAME", flush=True)
        poller.run(args.duration)


if __name__ == "__main__":
    main()
