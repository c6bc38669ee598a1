"""KFUNC_PROBE/KRETFUNC_PROBE/LSM_PROBE/KMOD_RET compile to fentry/fexit/lsm/fmod_ret
programs naming the kernel function's BTF id, with the arguments typed as declared; a
kernel without BPF trampolines (this one refuses them with EPERM) gets an error saying so
and naming the tracepoint to use, as do kprobes on a kernel without kprobes."""

from __future__ import annotations

import os

import pytest

from pybpf.bcc import BPF, BccError
from pybpf.bcc.bpf import compile_program
from pybpf.btf import Kind
from pybpf.kernel.btf_targets import attach_btf_id, vmlinux
from pybpf.object import AttachType, ProgramType

needs_btf = pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="needs the kernel's BTF")
root = pytest.mark.skipif(os.geteuid() != 0, reason="loads programs in the kernel: root only")

PROGRAM = r"""
BPF_HASH(unlinks, u32, u64);
KFUNC_PROBE(do_unlinkat, int dfd, struct filename *name)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    unlinks.increment(pid);
    return 0;
}
KRETFUNC_PROBE(do_unlinkat, int dfd, struct filename *name, long ret) { return 0; }
LSM_PROBE(bpf, int cmd) { return 0; }
"""


@needs_btf
def test_compiled_as_btf_attached_programs():
    compiled = compile_program(PROGRAM)
    functions = compiled.translation.functions
    expected = {"kfunc__vmlinux__do_unlinkat": (ProgramType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat"),
                "kretfunc__vmlinux__do_unlinkat": (ProgramType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat"),
                "lsm__bpf": (ProgramType.LSM, AttachType.LSM_MAC, "bpf_lsm_bpf")}
    for name, (kind, attach, btf_name) in expected.items():
        spec = compiled.spec.programs[functions[name].symbol]
        assert (spec.type, spec.expected_attach_type) == (kind, attach)
        assert attach_btf_id(spec) == vmlinux().find(btf_name, Kind.FUNC).id
    # the entry point reads the trampoline's u64 array: a body using its second argument
    # loads ctx[1] (8 bytes at r1 + 8)
    used = compile_program("KFUNC_PROBE(do_unlinkat, int dfd, struct filename *name) { return name != 0; }")
    entry = used.spec.programs[used.translation.functions["kfunc__vmlinux__do_unlinkat"].symbol]
    assert entry.section == "fentry/do_unlinkat"
    assert any(i.opcode == 0x79 and i.src == 1 and i.off == 8 for i in entry.instructions)


@root
@needs_btf
def test_attaching_on_a_kernel_without_trampolines_says_why_and_where_to_go():
    if BPF.support_kfunc():
        pytest.skip("this kernel runs fentry programs")
    with pytest.raises(BccError, match=r"kfunc__vmlinux__do_unlinkat: this kernel refuses fentry programs \(BPF "
                                       r"trampolines\) even to root \(BPF_PROG_LOAD: EPERM\), so "
                                       r"KFUNC_PROBE\(do_unlinkat\) cannot run here; the nearest tracepoint is "
                                       r"syscalls:sys_enter_unlinkat"):
        BPF(text=PROGRAM)
    with pytest.raises(BccError, match=r"KRETFUNC_PROBE\(vfs_read\) cannot run here; the nearest tracepoint is "
                                       r"syscalls:sys_exit_read"):
        BPF(text="KRETFUNC_PROBE(vfs_read, struct file *file, char *buf, size_t count, loff_t *pos, long ret) "
                 "{ return 0; }")
    with pytest.raises(BccError, match=r"refuses lsm programs .* LSM_PROBE\(bpf\) cannot run here; the nearest "
                                       r"tracepoint is syscalls:sys_enter_bpf"):
        BPF(text="LSM_PROBE(bpf, int cmd) { return 0; }")
    assert not BPF.support_lsm()


@root
@needs_btf
def test_attaching_by_hand_says_the_same():
    if BPF.support_kfunc():
        pytest.skip("this kernel runs fentry programs")
    b = BPF(text="BPF_HASH(h);\nint helper(void *ctx) { return 0; }")
    with b, pytest.raises(BccError, match="no function 'kfunc__nope'"):
        b.attach_kfunc(fn_name="nope")


@root
@needs_btf
def test_probes_checked_against_the_kernel_function():
    with pytest.raises(BccError, match=r"KFUNC_PROBE\(do_unlinkat\) declares 3 arguments; do_unlinkat\(\) has 2$"):
        BPF(text="KFUNC_PROBE(do_unlinkat, int dfd, void *name, int extra) { return 0; }")
    with pytest.raises(BccError, match=r"KRETFUNC_PROBE\(do_unlinkat\) declares 4 arguments; do_unlinkat\(\) has 2 "
                                       r"\(and the return value\)"):
        BPF(text="KRETFUNC_PROBE(do_unlinkat, int dfd, void *name, long ret, int extra) { return 0; }")
    with pytest.raises(BccError, match=r"the kernel's BTF has no function do_unlinkatt; did you mean do_unlinkat"):
        BPF(text="KFUNC_PROBE(do_unlinkatt, int dfd) { return 0; }")


@root
def test_kprobes_refused_naming_the_tracepoint():
    if os.path.exists("/sys/kernel/tracing/kprobe_events") or os.path.exists("/sys/kernel/debug/tracing/kprobe_events"):
        pytest.skip("this kernel has kprobes")
    with pytest.raises(BccError, match=r"kprobe on sched_fork: this kernel cannot attach kprobes .*the nearest "
                                       r"tracepoint is sched:sched_process_fork"):
        BPF(text="int kprobe__sched_fork(void *ctx) { return 0; }")
    with pytest.raises(BccError, match=r"kretprobe on do_unlinkat: .*the nearest tracepoint is "
                                       r"syscalls:sys_exit_unlinkat"):
        BPF(text="int kretprobe__do_unlinkat(void *ctx) { return 0; }")
    with BPF(text="int on_read(struct pt_regs *ctx) { return 0; }") as b:
        with pytest.raises(BccError, match=r"kprobe on vfs_read: .*the nearest tracepoint is syscalls:sys_enter_read"):
            b.attach_kprobe(event="vfs_read", fn_name="on_read")
        with pytest.raises(BccError, match=r"kprobe on functions matching '\^vfs_': .*needs kprobes"):
            b.attach_kprobe(event_re="^vfs_", fn_name="on_read")
        assert b.num_open_kprobes() == 0
