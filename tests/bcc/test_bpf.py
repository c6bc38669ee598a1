"""pybpf.bcc.BPF on the running kernel (root): tables with BTF-built Key/Leaf, kprobes on
syscall entry functions run on syscall tracepoints with the arguments and return value
where the program expects them, and the refusal of other kprobes naming a tracepoint."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from pybpf.bcc import BPF, BccError, TableError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loads programs in the kernel: root only")

SYSCALL_PROGRAM = r"""
struct key_t { u32 pid; char path[64]; };
BPF_HASH(opens, struct key_t, u64);
BPF_HASH(fds, u32, s64);
BPF_HASH(third, struct key_t, u64);
BPF_ARRAY(slots, u64, 4);
int syscall__openat(struct pt_regs *ctx, int dfd, const char __user *filename, int flags) {
    struct key_t key = {};
    key.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_user_str(&key.path, sizeof(key.path), filename);
    opens.increment(key);
    u64 f = PT_REGS_PARM3(ctx);
    third.update(&key, &f);
    return 0;
}
int ret_openat(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    s64 ret = PT_REGS_RC(ctx);
    fds.update(&pid, &ret);
    return 0;
}
"""


@pytest.fixture
def short_path():
    """A file whose path fits the program's 64-byte key (tmp_path may not)."""
    path = Path(f"/tmp/bcc-openat-{os.getpid()}")
    path.write_text("x")
    yield path
    path.unlink()


def test_syscall_kprobes_run_on_syscall_tracepoints(short_path):
    target = short_path
    with BPF(text=SYSCALL_PROGRAM) as b:
        fnname = b.get_syscall_fnname("openat")
        assert fnname == b"__x64_sys_openat"
        b.attach_kprobe(event=fnname, fn_name="syscall__openat")
        b.attach_kretprobe(event=fnname, fn_name="ret_openat")
        assert b.num_open_kprobes() == 2
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        os.close(fd)
        opens = b["opens"]
        assert [f[0] for f in opens.Key._fields_] == ["pid", "path"]
        key = opens.Key(os.getpid(), str(target).encode())
        assert opens[key].value >= 1
        assert any(k.path == str(target).encode() for k in opens.keys())  # noqa: SIM118 (keys() is the API under test)
        assert b["fds"][ctypes.c_uint32(os.getpid())].value >= 0
        assert len(b["slots"]) == 4 and b["slots"][3].value == 0
        assert b["third"][key].value & os.O_CLOEXEC  # PT_REGS_PARM3: openat's flags
        del opens[key]
        with pytest.raises(TableError):
            opens[key]
        b.detach_kretprobe(event=fnname)
        assert b.num_open_kprobes() == 1
        b.detach_kprobe(event=fnname)   # nothing adds entries any more: clear() empties it
        opens.clear()
        assert len(opens) == 0


def test_other_kprobes_are_refused_naming_a_tracepoint():
    with pytest.raises(BccError, match="the nearest tracepoint is sched:sched_process_fork"):
        BPF(text="int kprobe__sched_fork(void *ctx) { return 0; }")


def test_unknown_function_and_table():
    with BPF(text="TRACEPOINT_PROBE(sched, sched_process_exit) { return 0; }") as b:
        assert b.num_open_tracepoints() == 1
        with pytest.raises(BccError, match="no function 'nope'"):
            b.attach_tracepoint(tp="sched:sched_process_fork", fn_name="nope")
        with pytest.raises(TableError, match="no table 'missing'"):
            b["missing"]
    assert BPF.tracepoint_exists("sched", "sched_process_exit")
    assert not BPF.tracepoint_exists("sched", "no_such_event")


def test_uprobes_on_functions_matching_a_pattern():
    with BPF(text="BPF_HASH(calls, u32, u64);\n"
                  "int on_call(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; "
                  "calls.increment(pid); return 0; }") as b:
        b.attach_uprobe(name="c", sym_re="^getppid$", fn_name="on_call")
        assert b.num_open_uprobes() == 1
        for _ in range(3):
            os.getppid()
        assert b["calls"][ctypes.c_uint32(os.getpid())].value >= 3
        with pytest.raises(BccError, match="no function matches"):
            b.attach_uprobe(name="c", sym_re="^no_such_function_here$", fn_name="on_call")


def test_uprobe_on_an_ifunc_symbol_fires_on_calls():
    # libc's strlen is an IFUNC: the probe goes to the implementation the loader picked
    with BPF(text="BPF_HASH(calls, u64, u64);\n"
                  "int on_strlen(struct pt_regs *ctx) {\n"
                  "    u64 arg = PT_REGS_PARM1(ctx);\n"
                  "    calls.increment(arg);\n    return 0;\n}") as b:
        b.attach_uprobe(name="c", sym="strlen", fn_name="on_strlen", pid=os.getpid())
        text = ctypes.create_string_buffer(b"pybpf-bcc-ifunc")
        libc = ctypes.CDLL(None)
        for _ in range(5):
            assert libc.strlen(text) == 15
        assert b["calls"][ctypes.c_uint64(ctypes.addressof(text))].value == 5


def test_implicit_kernel_reads_read_the_running_kernel():
    with BPF(text="BPF_HASH(parents, u32, u32);\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  "    u32 tgid = ((struct task_struct *)bpf_get_current_task())->tgid;\n"
                  "    u32 ppid = task->real_parent->tgid;\n"
                  "    parents.update(&tgid, &ppid);\n    return 0;\n}") as b:
        os.getppid()
        assert b["parents"][ctypes.c_uint32(os.getpid())].value == os.getppid()


def test_reads_through_a_program_declared_struct_pointer_into_kernel_memory():
    # runqlen.py's shape: a struct of the program's own laid over kernel memory
    from pybpf.btf import Kind
    from pybpf.kernel.btf_targets import vmlinux

    task = vmlinux().find("task_struct", Kind.STRUCT)
    tgid = next(m for m in task.members if m.name == "tgid").offset // 8
    with BPF(text=f"struct task_partial {{ char pad[{tgid}]; int tgid; }};\n"
                  "BPF_HASH(parents, u32, u32);\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  "    struct task_partial *parent = (struct task_partial *)task->real_parent;\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32, ppid = parent->tgid;\n"
                  "    parents.update(&pid, &ppid);\n"
                  "    return 0;\n}") as b:
        os.getppid()
        assert b["parents"][ctypes.c_uint32(os.getpid())].value == os.getppid()


def test_elements_read_through_a_cast_of_kernel_memory():
    # tcpdrop.py's shape: ((u_int8_t *)tcp)[13]
    from pybpf.btf import Kind
    from pybpf.kernel.btf_targets import vmlinux

    task = vmlinux().find("task_struct", Kind.STRUCT)
    tgid = next(m for m in task.members if m.name == "tgid").offset // 8
    with BPF(text="BPF_HASH(tgids, u32, u32);\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  f"    u32 pid = bpf_get_current_pid_tgid() >> 32, tgid = ((u32 *)task)[{tgid // 4}];\n"
                  "    tgids.update(&pid, &tgid);\n"
                  "    return 0;\n}") as b:
        os.getppid()
        assert b["tgids"][ctypes.c_uint32(os.getpid())].value == os.getpid()


def test_kernel_reads_of_user_pointers_read_user_memory(short_path):
    # trace.py's "%s", args->filename: bpf_probe_read_kernel_str of a syscall argument,
    # beside a kernel string (the task's comm) read with the same helper
    with BPF(text="struct path_t { char path[64]; char comm[16]; };\n"
                  "BPF_HASH(paths, u32, struct path_t);\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_openat) {\n"
                  "    struct path_t p = {};\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  "    void *name = (void *)args->filename;\n"
                  "    bpf_probe_read_kernel_str(&p.path, sizeof(p.path), name);\n"
                  "    bpf_probe_read_kernel(&p.comm, sizeof(p.comm), &task->comm);\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32;\n"
                  "    paths.update(&pid, &p);\n"
                  "    return 0;\n}") as b:
        os.close(os.open(short_path, os.O_RDONLY | os.O_CLOEXEC))
        seen = b["paths"][ctypes.c_uint32(os.getpid())]
        assert seen.path.decode() == str(short_path)
        assert seen.comm.decode() == Path(f"/proc/{os.getpid()}/comm").read_text().strip()


def test_raw_tracepoint_reading_past_its_arguments_says_so():
    # sched_process_fork passes 2 arguments (parent, child): args[5] is past them
    with pytest.raises(BccError, match=r"raw tracepoint sched_process_fork: the kernel refused "
                                       r"raw_tracepoint__sched_process_fork \(EINVAL\): it reads more arguments "
                                       r"\(ctx->args\[N\]\) than the 2 sched_process_fork has in this kernel"):
        BPF(text="BPF_HASH(h, u32, u64);\nRAW_TRACEPOINT_PROBE(sched_process_fork) {\n"
                 "    u32 k = 0; u64 v = ctx->args[5]; h.update(&k, &v); return 0;\n}")


def test_attach_raw_socket_filters_what_the_socket_receives():
    import socket

    with BPF(text="BPF_ARRAY(seen, u64, 1);\n"
                  "int keep_udp(struct __sk_buff *skb) {\n"
                  "    if (skb->protocol != bpf_htons(ETH_P_IP)) return 0;\n"
                  "    u8 proto = load_byte(skb, ETH_HLEN + 9);\n"
                  "    if (proto != 17) return 0;\n"
                  "    seen.increment(0);\n"
                  "    return -1;\n}") as b:
        fn = b.load_func("keep_udp", BPF.SOCKET_FILTER)
        assert fn.name == b"keep_udp" and fn.fd > 0
        BPF.attach_raw_socket(fn, "lo")
        raw = socket.socket(fileno=fn.sock)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                for _ in range(3):
                    udp.sendto(b"pybpf-bcc-raw", ("127.0.0.1", 9))
            frames = []
            raw.settimeout(5)
            while len(frames) < 3:
                frames.append(raw.recv(2048))
            assert all(f.endswith(b"pybpf-bcc-raw") for f in frames)
            assert b["seen"][0].value >= 3
        finally:
            raw.close()


def test_batch_operations_on_a_hash():
    b = BPF(text="BPF_HASH(counts, u32, u64, 1024);")
    try:
        counts = b["counts"]
        keys = (counts.Key * 300)(*range(300))
        leaves = (counts.Leaf * 300)(*(k * 7 for k in range(300)))
        counts.items_update_batch(keys, leaves)
        assert sorted((k.value, v.value) for k, v in counts.items_lookup_batch()) == [(k, k * 7) for k in range(300)]
        counts.items_delete_batch((counts.Key * 2)(5, 6))
        assert len(counts) == 298 and 5 not in [k.value for k in counts.keys()]
        counts.items_delete_batch()
        assert len(counts) == 0 and list(counts.items_lookup_batch()) == []
        with pytest.raises(TableError, match="2 keys but 1 leaves"):
            counts.items_update_batch((counts.Key * 2)(1, 2), (counts.Leaf * 1)(1))
    finally:
        b.cleanup()
