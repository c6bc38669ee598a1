"""Programs that name a kernel BTF id at load: task iterators (read back through
BPF_ITER_CREATE) and BTF raw tracepoints (tp_btf). Root and kernel BTF needed."""

from __future__ import annotations

import os

import pytest

from pybpf.btf import Kind
from pybpf.engine import BPFError, load
from pybpf.kernel.attach import attach
from pybpf.object import ProgramSpec
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c

pytestmark = [
    pytest.mark.usefixtures("no_fd_leak"),
    pytest.mark.skipif(os.geteuid() != 0, reason="BTF-attached programs need root"),
    pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="the kernel has no BTF"),
]

ITER_TASK = r"""
#include <pybpf/bpf.h>
struct bpf_iter__task { void **meta; void *task; };
SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
    char *task = ctx->task;
    if (!task)
        return 0;
    u64 args[2] = { *(int *)(task + PID_OFFSET), (u64)(task + COMM_OFFSET) };
    static const char fmt[] = "%d %s\n";
    bpf_seq_printf(ctx->meta[0], fmt, sizeof(fmt), args, sizeof(args));
    return 0;
}
LICENSE("GPL");
"""

TP_BTF = r"""
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } hits SEC(".maps");
volatile const u32 target_tgid = 0;
SEC("tp_btf/sys_enter")
int on_enter(u64 *ctx)
{
    u32 zero = 0;
    u64 *n = bpf_map_lookup_elem(&hits, &zero);
    if (n && (bpf_get_current_pid_tgid() >> 32) == target_tgid)
        __sync_fetch_and_add(n, 1);
    return 0;
}
LICENSE("GPL");
"""


def test_task_iterator_lists_this_process():
    from pybpf.kernel.btf_targets import vmlinux

    task = vmlinux().find("task_struct", Kind.STRUCT)
    offsets = {"PID_OFFSET": vmlinux().member(task.id, "pid").offset // 8,
               "COMM_OFFSET": vmlinux().member(task.id, "comm").offset // 8}
    spec = load_object(compile_c(ITER_TASK, defines=offsets), name="tasks")
    try:
        coll = load(spec, engine="kernel")
    except BPFError as exc:
        pytest.skip(f"this kernel refuses iterators: {exc}")
    with coll, attach(coll.programs["dump_task"]) as iterator:
        lines = iterator.read().splitlines()
        assert f"{os.getpid()} " in {line.split(" ", 1)[0] + " " for line in lines}
        assert len(lines) > 10                                                  # kernel threads too
        assert iterator.read().splitlines()[0] == lines[0]                      # each read is a fresh pass


def test_tp_btf_counts_our_syscalls():
    spec = load_object(compile_c(TP_BTF), name="tpbtf")
    rodata = next(m for m in spec.maps.values() if m.name.endswith(".rodata"))
    spec.maps[rodata.name] = rodata.copy(contents=os.getpid().to_bytes(4, "little"))
    try:
        coll = load(spec, engine="kernel")
    except BPFError as exc:
        pytest.skip(f"this kernel refuses tp_btf programs: {exc}")
    with coll:
        with attach(coll.programs["on_enter"]):
            for _ in range(5):
                os.getppid()
        assert coll.maps["hits"][0] >= 5


def test_unknown_btf_target_is_named():
    spec = ProgramSpec("it", "tracing", [], expected_attach_type="trace_iter", attach_to="taks")
    from pybpf.kernel.btf_targets import attach_btf_id

    with pytest.raises(BPFError, match="no func bpf_iter_taks; did you mean bpf_iter_task"):
        attach_btf_id(spec)
