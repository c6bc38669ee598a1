"""BCC's implicit reads of kernel memory, decided on clang's syntax tree
(pybpf.bcc.kernel_reads): which loads become probe reads, which do not, and — loaded in
the running kernel (root) — that the values read are the kernel's (the parent's tgid as
/proc has it, the task's comm)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from pybpf.bcc import BPF
from pybpf.bcc.bpf import compile_program
from pybpf.bcc.tokens import BccSyntaxError

root = pytest.mark.skipif(os.geteuid() != 0, reason="loads programs in the kernel: root only")

READ = "__bcc_probe_read_kernel((void *)&"


def test_chains_read_each_pointer_and_addresses_read_nothing():
    source = compile_program("TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                             "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                             "    int *pid = &task->pid;\n    char *comm = task->comm;\n"
                             "    u64 *runtime = &task->se.sum_exec_runtime;\n"
                             "    u32 size = sizeof(task->real_parent->tgid);\n"
                             "    return task->real_parent->tgid + size + (pid != 0) + (comm != 0) + (runtime != 0);\n}"
                             ).translation.source
    assert "int *pid = &task->pid;" in source
    assert "u64 *runtime = &task->se.sum_exec_runtime;" in source
    assert "char *comm = task->comm;" in source
    assert "u32 size = sizeof(task->real_parent->tgid);" in source
    assert source.count(READ) == 2        # task->real_parent, then its ->tgid
    assert "(const void *)&(task->real_parent)" in source


def test_context_and_packet_accesses_stay_direct():
    source = compile_program("int on_xdp(struct xdp_md *ctx) {\n"
                             "    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;\n"
                             "    struct ethhdr *eth = data;\n"
                             "    if ((void *)(eth + 1) > end) return XDP_PASS;\n"
                             "    return eth->h_proto == 8 ? XDP_DROP : XDP_PASS;\n}\n"
                             "int on_regs(struct pt_regs *ctx) { return ctx->di + PT_REGS_PARM2(ctx); }"
                             ).translation.source
    assert READ not in source


def test_writing_to_kernel_memory_is_an_error_naming_the_place():
    with pytest.raises(BccSyntaxError, match=r"^3:5: writes to kernel memory \(task->pid = 1\)"):
        compile_program("TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                        "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                        "    task->pid = 1;\n    return 0;\n}")
    with pytest.raises(BccSyntaxError, match=r"^2:12: writes to kernel memory"):
        compile_program("int f(struct pt_regs *ctx, struct sock *sk) {\n"
                        "    return sk->__sk_common.skc_dport++; }")


def test_helpers_taking_registers_write_to_the_programs_own_memory():
    source = compile_program("struct data_t { u32 pid; u32 ppid; };\n"
                             "static void fill(struct pt_regs *ctx, struct data_t *d) {\n"
                             "    struct task_struct *t = (struct task_struct *)bpf_get_current_task();\n"
                             "    d->pid = t->tgid; d->ppid = t->real_parent->tgid;\n}\n"
                             "int f(struct pt_regs *ctx) { struct data_t d = {}; fill(ctx, &d); return d.pid; }"
                             ).translation.source
    assert source.count(READ) == 3        # t->tgid, t->real_parent, its ->tgid
    assert "d->pid = (" in source and "return d.pid;" in source


# tcpv4connect.py's shape on syscalls: the entry stores a kernel pointer (the task) in a
# table; the return probe looks it up and reads through it, as `*skpp` and `(*skpp)->...`
STORED_POINTER = r"""
struct seen_t { u32 ppid; u32 ppid2; u32 ppid3; u32 ppid4; u32 ppid5; u32 tgid; u32 tgid2; u32 tgid3; u32 tgid4; char comm0; char comm1; };
BPF_HASH(current, u32, struct task_struct *);
BPF_HASH(seen, u32, struct seen_t);
struct holder { struct task_struct *task; };

static struct task_struct *parent_of(struct task_struct *t) { return t->real_parent; }

int enter_getppid(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct task_struct *task;
    task = (struct task_struct *)bpf_get_current_task();
    current.update(&pid, &task);
    return 0;
}

int leave_getppid(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct task_struct **tpp = current.lookup(&pid);
    if (tpp == 0)
        return 0;
    struct task_struct *tp = *tpp;
    struct seen_t s = {};
    struct holder h = {};
    h.task = tp;
    int i = 1;
    s.ppid = tp->real_parent->tgid;
    s.ppid2 = (*tpp)->real_parent->tgid;
    s.ppid3 = parent_of(tp)->tgid;
    s.ppid4 = (pid ? tp->real_parent : tp)->tgid;
    struct task_struct *parent;
    bpf_probe_read_kernel(&parent, sizeof(parent), &tp->real_parent);
    s.ppid5 = parent->tgid;
    s.tgid = h.task->tgid;
    int *p = &tp->tgid;
    p = p + 2;
    p = p - 2;
    s.tgid2 = *p;
    s.tgid3 = ((u32 *)&tp->tgid)[0];
    struct task_struct *tasks[2] = {};
    tasks[i] = tp;
    s.tgid4 = tasks[1]->tgid;
    s.comm0 = tp->comm[0];
    s.comm1 = tp->comm[i];
    seen.update(&pid, &s);
    current.delete(&pid);
    return 0;
}
"""


@root
def test_pointers_stored_returned_and_derived_read_the_running_kernel():
    with BPF(text=STORED_POINTER) as b:
        fnname = b.get_syscall_fnname("getppid")
        b.attach_kprobe(event=fnname, fn_name="enter_getppid")
        b.attach_kretprobe(event=fnname, fn_name="leave_getppid")
        os.getppid()
        s = b["seen"][ctypes.c_uint32(os.getpid())]
        ppid = os.getppid()
        assert (s.ppid, s.ppid2, s.ppid3, s.ppid4, s.ppid5) == (ppid,) * 5
        assert (s.tgid, s.tgid2, s.tgid3, s.tgid4) == (os.getpid(),) * 4
        comm = Path(f"/proc/{os.getpid()}/comm").read_bytes()
        assert s.comm0 + s.comm1 == comm[:2]


@root
def test_pointers_from_a_raw_tracepoints_context_and_tracepoint_fields(tmp_path):
    # sys_enter passes (struct pt_regs *regs, long id): regs points into the kernel
    target = tmp_path / "Xbcckernel"
    target.write_text("")
    with BPF(text="BPF_HASH(ids, u32, u64);\nBPF_HASH(first, u32, char);\n"
                  "RAW_TRACEPOINT_PROBE(sys_enter) {\n"
                  "    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32;\n"
                  "    u64 nr = regs->orig_ax;\n"
                  "    if (nr == 110) ids.update(&pid, &nr);\n"
                  "    return 0;\n}\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_openat) {\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32;\n"
                  "    char c = args->filename[" + str(len(str(tmp_path)) + 1) + "];\n"
                  "    if (c == 'X') first.update(&pid, &c);\n"
                  "    return 0;\n}") as b:
        os.getppid()
        os.close(os.open(target, os.O_RDONLY | os.O_CLOEXEC))
        assert b["ids"][ctypes.c_uint32(os.getpid())].value == 110
        assert b["first"][ctypes.c_uint32(os.getpid())].value == b"X"


@root
def test_bitfield_members_are_read_by_their_bits():
    # task->in_execve (a 1-bit member) is set while the kernel runs exec, where
    # sched_process_exec reports; it is clear in any other syscall
    import subprocess

    with BPF(text="BPF_HASH(bits, u32, u32);\n"
                  "static void note(void) {\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32, bit = task->in_execve;\n"
                  "    bits.update(&pid, &bit);\n}\n"
                  "TRACEPOINT_PROBE(sched, sched_process_exec) { note(); return 0; }\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { note(); return 0; }") as b:
        assert "BPF_CORE_READ_BITFIELD_PROBED((task), in_execve)" in b.source
        child = subprocess.Popen(["/bin/true"])
        assert child.wait() == 0
        os.getppid()
        seen = {k.value: v.value for k, v in b["bits"].items()}
        assert seen[os.getpid()] == 0
        assert seen[child.pid] == 1


@root
def test_reads_through_a_kernel_struct_the_program_redefines():
    # mountsnoop.py's shape: its own copy of struct mnt_namespace (a CO-RE flavor here),
    # assigned from the kernel's type (C's incompatible pointers, which BCC accepts)
    with BPF(text="struct mnt_namespace { struct ns_common ns; };\n"
                  "BPF_HASH(namespaces, u32, u32);\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  "    struct nsproxy *nsproxy = task->nsproxy;\n"
                  "    struct mnt_namespace *mnt_ns = nsproxy->mnt_ns;\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32, inum = mnt_ns->ns.inum;\n"
                  "    namespaces.update(&pid, &inum);\n"
                  "    return 0;\n}") as b:
        os.getppid()
        assert b["namespaces"][ctypes.c_uint32(os.getpid())].value == os.stat("/proc/self/ns/mnt").st_ino


@root
def test_a_function_named_like_a_kernel_member_it_reads():
    # the dump renames the program's functions by #define, except one whose name is also
    # spelled as a member (here signal->nr_threads): that one is dumped by its own run
    with BPF(text="BPF_HASH(threads, u32, u32);\n"
                  "static u32 nr_threads(struct task_struct *t) { return t->signal->nr_threads; }\n"
                  "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                  "    struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  "    u32 pid = bpf_get_current_pid_tgid() >> 32, n = nr_threads(task);\n"
                  "    threads.update(&pid, &n);\n"
                  "    return 0;\n}") as b:
        os.getppid()
        status = Path("/proc/self/status").read_text()
        expected = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
        assert b["threads"][ctypes.c_uint32(os.getpid())].value == expected


@root
def test_tcpv4connect_shape_a_socket_stored_at_entry_read_at_return():
    # BCC's examples/tracing/tcpv4connect.py without kprobes: the socket pointer comes
    # from sock:inet_sock_set_state (SYN_SENT) and is stored by thread; connect()'s
    # return looks it up and reads its destination port through the stored pointer
    import socket
    import threading

    with BPF(text="BPF_HASH(currsock, u32, struct sock *);\n"
                  "BPF_HASH(ports, u32, u32);\n"
                  "TRACEPOINT_PROBE(sock, inet_sock_set_state) {\n"
                  "    if (args->protocol != IPPROTO_TCP || args->newstate != TCP_SYN_SENT) return 0;\n"
                  "    u32 tid = bpf_get_current_pid_tgid();\n"
                  "    struct sock *sk = (struct sock *)args->skaddr;\n"
                  "    currsock.update(&tid, &sk);\n"
                  "    return 0;\n}\n"
                  "TRACEPOINT_PROBE(syscalls, sys_exit_connect) {\n"
                  "    u32 tid = bpf_get_current_pid_tgid();\n"
                  "    struct sock **skpp = currsock.lookup(&tid);\n"
                  "    if (skpp == 0) return 0;\n"
                  "    struct sock *skp = *skpp;\n"
                  "    u16 dport = skp->__sk_common.skc_dport;\n"
                  "    u32 both = ((u32)dport << 16) | (*skpp)->__sk_common.skc_dport;\n"
                  "    ports.update(&tid, &both);\n"
                  "    currsock.delete(&tid);\n"
                  "    return 0;\n}") as b:
        with socket.socket() as server, socket.socket() as client:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            port = server.getsockname()[1]
            client.connect(("127.0.0.1", port))
        both = b["ports"][ctypes.c_uint32(threading.get_native_id())].value
        assert (both >> 16, both & 0xFFFF) == (socket.htons(port), socket.htons(port))
