"""A tracepoint program written against vmlinux.h's record type reads a fixed field and
a __data_loc string (TP_DATA_LOC from <pybpf/bpf.h>): sched_process_exec's pid and file
name for a process the test starts. Needs root and the kernel's BTF."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from pybpf.engine import load
from pybpf.kernel.attach import attach
from pybpf.kernel.ringbuf import RingBuffer
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/sys/kernel/btf/vmlinux"),
                                reason="needs root and /sys/kernel/btf/vmlinux")

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
    struct { u32 pid; u32 length; char filename[64]; } *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = ctx->pid;
    e->length = TP_DATA_LOC_LEN(ctx, filename);
    bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), TP_DATA_LOC(ctx, filename));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""


def test_fixed_and_data_loc_fields_of_a_tracepoint_record():
    spec = load_object(compile_c(SOURCE), name="exec_records")
    with load(spec, engine="kernel") as coll, attach(coll.programs["on_exec"]), \
            RingBuffer.of(coll.maps["events"]) as ring:
        subprocess.run(["/bin/true"], check=True)
        records = [struct.unpack("<II64s", r) for r in ring.records()]
    seen = {(name.split(b"\0", 1)[0].decode(), length) for _, length, name in records}
    assert ("/bin/true", len("/bin/true") + 1) in seen
