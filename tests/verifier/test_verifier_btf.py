"""BTF-typed pointers in :mod:`pybpf.verifier`: a tracing program's context typed from
its attach target in the kernel's BTF, loads through kernel struct pointers, helpers
that take or return them, and targets the kernel does not have — checked against the
messages the kernel gives and, for BTF tracepoints and iterators (which this kernel
loads), against the kernel's own verdicts."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from pybpf.btf import BTF, Kind
from pybpf.isa.assembler import assemble
from pybpf.object import AttachType, ProgramSpec, ProgramType
from pybpf.verifier import verify

VMLINUX = Path("/sys/kernel/btf/vmlinux")
pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="the running kernel has no BTF (/sys/kernel/btf/vmlinux)")


@pytest.fixture(scope="module")
def task():
    """Byte offsets of task_struct members, its size."""
    btf = BTF.load(VMLINUX)
    struct = btf.find("task_struct", Kind.STRUCT)
    offsets = {m.name: m.offset // 8 for m in struct.members}
    offsets["size"] = struct.size
    return offsets


def _switch_cases(t):
    """(name, program on tp_btf/sched_switch, the kernel's message; '' when accepted).
    sched_switch's arguments: bool preempt, task_struct *prev, *next, unsigned int state."""
    pid, parent = t["pid"], t["real_parent"]
    return [
        ("prev->pid", f"r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{pid})\nexit", ""),
        ("bool argument, one byte", "r0 = *(u8 *)(r1 +0)\nexit", ""),
        ("unsigned int argument, four bytes", "r0 = *(u32 *)(r1 +24)\nexit", ""),
        ("read inside an argument", "r0 = *(u32 *)(r1 +4)\nexit", "invalid bpf_context access off=4 size=4"),
        ("one past the arguments", "r0 = *(u64 *)(r1 +32)\nexit", "invalid bpf_context access off=32 size=8"),
        ("two past the arguments", "r0 = *(u64 *)(r1 +40)\nexit", "invalid bpf_context access off=40 size=8"),
        ("past every argument slot", "r0 = *(u64 *)(r1 +96)\nexit", "invalid bpf_context access off=96 size=8"),
        ("negative context offset", "r0 = *(u64 *)(r1 -8)\nexit", "invalid bpf_context access off=-8 size=8"),
        ("pointer argument read narrow", "r0 = *(u32 *)(r1 +8)\nexit", "invalid bpf_context access off=8 size=4"),
        ("write into the context", "r2 = 0\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit",
         "invalid bpf_context access off=0 size=8"),
        ("modified context pointer", "r1 += 8\nr0 = *(u64 *)(r1 +0)\nexit",
         "dereference of modified ctx ptr R1 off=8 disallowed"),
        ("write into the task", f"r2 = *(u64 *)(r1 +8)\nr3 = 1\n*(u32 *)(r2 +{pid}) = r3\nr0 = 0\nexit",
         "only read is supported"),
        ("atomic add into the task", f"r2 = *(u64 *)(r1 +8)\nr3 = 1\nlock *(u32 *)(r2 +{pid}) += w3\nr0 = 0\nexit",
         "only read is supported"),
        ("negative offset", "r2 = *(u64 *)(r1 +8)\nr0 = *(u64 *)(r2 -8)\nexit",
         "R2 is ptr_task_struct invalid negative access: off=-8"),
        ("past the struct", f"r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{t['size']})\nexit",
         f"access beyond struct task_struct at off {t['size']} size 4"),
        ("pointer member read narrow", f"r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +{parent})\nexit",
         f"cannot access ptr member real_parent with moff {parent} in struct task_struct with off {parent} size 4"),
        ("prev->real_parent->pid",
         f"r2 = *(u64 *)(r1 +8)\nr2 = *(u64 *)(r2 +{parent})\nr0 = *(u32 *)(r2 +{pid})\nexit", ""),
        ("variable offset", "r2 = *(u64 *)(r1 +8)\nr3 = *(u32 *)(r1 +24)\nr3 &= 7\nr2 += r3\n"
         "r0 = *(u8 *)(r2 +0)\nexit", "R2 is ptr_task_struct invalid variable offset: off=0, var_off=(0x0; 0x7)"),
        ("constant pointer arithmetic", f"r2 = *(u64 *)(r1 +8)\nr2 += {pid}\nr0 = *(u32 *)(r2 +0)\nexit", ""),
        ("NULL test of a trusted argument",
         f"r2 = *(u64 *)(r1 +8)\nif r2 == 0 goto +2\nr0 = *(u32 *)(r2 +{pid})\nexit\nr0 = *(u64 *)(r2 +0)\nexit", ""),
        ("NULL branch of a trusted argument is dead",
         "r2 = *(u64 *)(r1 +8)\nif r2 == 0 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r2 -8)\nexit", ""),
        ("prev->mm is untrusted", f"r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{t['mm']})\ncall 1\nr0 = 0\nexit",
         "R1 type=untrusted_ptr_ expected=map_ptr"),
        ("prev->group_leader is RCU-protected",
         f"r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{t['group_leader']})\ncall 1\nr0 = 0\nexit",
         "R1 type=rcu_ptr_ expected=map_ptr"),
        ("a void * member is untrusted memory, read anywhere",
         f"r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{t['stack']})\nr0 = *(u64 *)(r1 -8)\nr0 = *(u64 *)(r1 +30000)\n"
         "exit", ""),
        ("untrusted memory is read-only",
         f"r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{t['stack']})\nr2 = 0\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit",
         "R1 cannot write into rdonly_untrusted_mem"),
        ("untrusted memory may be NULL",
         f"r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{t['stack']})\nif r1 == 0 goto +2\nr0 = 0\nexit\n"
         "r0 = *(u64 *)(r10 +8)\nexit", "invalid read from stack R10 off=8 size=8"),
        ("sign-extending load", f"r2 = *(u64 *)(r1 +8)\nr0 = *(s32 *)(r2 +{pid})\nexit", ""),
        ("bitwise operation on the pointer", "r2 = *(u64 *)(r1 +8)\nr2 &= 7\nr0 = 0\nexit",
         "R2 bitwise operator &= on pointer prohibited"),
        ("difference of two task pointers", "r2 = *(u64 *)(r1 +8)\nr3 = *(u64 *)(r1 +16)\nr2 -= r3\nr0 = r2\nexit", ""),
        ("bpf_get_current_task_btf()->pid", f"call 158\nr0 = *(u32 *)(r0 +{pid})\nexit", ""),
        ("task pointer as probe_read_kernel's source",
         "r3 = *(u64 *)(r1 +8)\nr1 = r10\nr1 += -8\nr2 = 8\ncall 113\nr0 = 0\nexit", ""),
        ("trusted task pointer as memory", "r1 = *(u64 *)(r1 +8)\nr2 = 8\ncall 6\nr0 = 0\nexit", ""),
        ("trusted task pointer as too much memory", "r1 = *(u64 *)(r1 +8)\nr2 = 64000\ncall 6\nr0 = 0\nexit",
         "access beyond struct task_struct at off 0 size 64000"),
        ("RCU task pointer as memory",
         f"r1 = *(u64 *)(r1 +8)\nr1 = *(u64 *)(r1 +{parent})\nr2 = 8\ncall 6\nr0 = 0\nexit",
         "R1 type=rcu_ptr_ expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"),
        ("seq_printf outside an iterator", "r1 = 0\ncall 126\nr0 = 0\nexit",
         "program of this type cannot use helper bpf_seq_printf#126"),
        ("task_pt_regs(scalar)", "r1 = 0\ncall 175\nr0 = 0\nexit", "R1 type=scalar expected=ptr_, trusted_ptr_, rcu_ptr_"),
    ]


def _switch(text: str) -> ProgramSpec:
    return ProgramSpec("verifierbtf", ProgramType.TRACING, assemble(text),
                       expected_attach_type=AttachType.TRACE_RAW_TP, attach_to="sched_switch")


def _ours(spec: ProgramSpec, log_level: int = 0):
    return verify(spec.instructions, spec.type, {}, attach_type=spec.expected_attach_type, attach_to=spec.attach_to,
                  log_level=log_level)


def _kernel_message(spec: ProgramSpec) -> tuple[bool, str, str]:
    """The kernel's verdict, final message and log."""
    from pybpf.engine import BPFError, VerifierError
    from pybpf.kernel.programs import load_program

    try:
        load_program(spec).close()
    except VerifierError as exc:
        lines = [line for line in exc.log.splitlines()
                 if line.strip() and not line.startswith(("processed", "stack depth", "verification time"))]
        return False, lines[-1] if lines else str(exc), exc.log
    except BPFError as exc:
        return False, str(exc), ""
    return True, "", ""


def _reasons(log: str) -> list[str]:
    """The lines of a log that explain a context refusal (``func 'NAME' ...``)."""
    return [line for line in log.splitlines() if line.startswith("func '")]


def test_sched_switch_programs_get_the_kernels_messages(task):
    wrong = []
    for name, text, message in _switch_cases(task):
        verdict = _ours(_switch(text))
        if (verdict.accepted, verdict.message) != (not message, message):
            wrong.append((name, verdict.message))
    assert not wrong


def test_sched_switch_programs_against_the_kernel(task):
    """The same programs loaded as BTF tracepoints by the kernel (root): same verdict,
    same final message, same reason for a context refusal."""
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    differ = []
    for name, text, _ in _switch_cases(task):
        spec = _switch(text)
        verdict, (accepted, message, log) = _ours(spec, log_level=1), _kernel_message(spec)
        reasons = _reasons(verdict.log) if not verdict.accepted else []       # (the kernel's log: refusals only)
        if (verdict.accepted, verdict.message, reasons) != (accepted, message, _reasons(log)):
            differ.append((name, verdict.message, message))
    assert not differ


def test_refusal_says_why_in_the_log(task):
    verdict = verify(assemble("r0 = *(u32 *)(r1 +4)\nexit"), ProgramType.TRACING, {},
                     attach_type=AttachType.TRACE_RAW_TP, attach_to="sched_switch", log_level=1)
    assert "func 'sched_switch' offset 4 is not multiple of 8" in verdict.log
    verdict = verify(assemble("r0 = *(u64 *)(r1 +32)\nexit"), ProgramType.TRACING, {},
                     attach_type=AttachType.TRACE_RAW_TP, attach_to="sched_switch", log_level=1)
    assert "func 'sched_switch' doesn't have 5-th argument" in verdict.log
    # the tracepoint's hidden void * counts, its void return does not
    verdict = verify(assemble("r0 = *(u64 *)(r1 +40)\nexit"), ProgramType.TRACING, {},
                     attach_type=AttachType.TRACE_RAW_TP, attach_to="sched_switch", log_level=1)
    assert "func 'sched_switch' doesn't have 7-th argument" in verdict.log


def _function(btf: BTF, void_return: bool) -> tuple[str, int]:
    """A kernel function with two or more arguments, the first a struct pointer: its
    name and argument count (void-returning or int-returning as asked)."""
    for name in ("vfs_read", "vfs_write", "do_sys_openat2", "schedule_tail", "finish_task_switch", "wake_up_new_task",
                 "__put_task_struct", "exit_signals"):
        func = btf.find(name, Kind.FUNC)
        if func is None:
            continue
        proto = btf[func.ref]
        returns_void = proto.ref == 0
        first = btf.resolve(proto.members[0].type) if proto.members else None
        if returns_void == void_return and first is not None and first.kind == Kind.PTR and \
                btf.resolve(first.ref).kind == Kind.STRUCT:
            return name, len(proto.members)
    pytest.skip("no suitable kernel function in this kernel's BTF")


@pytest.mark.parametrize("attach", [AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN])
def test_fentry_fexit_context(attach):
    """fentry sees the arguments, fexit and fmod_ret the return value after them too."""
    btf = BTF.load(VMLINUX)
    name, count = _function(btf, void_return=False)

    def run(text: str):
        return verify(assemble(text), ProgramType.TRACING, {}, attach_type=attach, attach_to=name, log_level=1)
    assert run("r2 = *(u64 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nr0 = 0\nexit").accepted
    ret = run(f"r0 = *(u64 *)(r1 +{8 * count})\nr0 = 0\nexit")
    assert ret.accepted is (attach != AttachType.TRACE_FENTRY)
    if attach == AttachType.TRACE_FENTRY:
        assert ret.message == f"invalid bpf_context access off={8 * count} size=8"
        assert f"func '{name}' doesn't have {count + 1}-th argument" in ret.log
    beyond = run(f"r0 = *(u64 *)(r1 +{8 * count + 8})\nr0 = 0\nexit")
    assert f"func '{name}' doesn't have {count + 2}-th argument" in beyond.log
    # the argument is a plain (untrusted) BTF pointer: its NULL branch is explored too
    both = run("r2 = *(u64 *)(r1 +0)\nif r2 == 0 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r2 -8)\nexit")
    assert not both.accepted and both.message.startswith("R2 is ptr_") and "invalid negative access" in both.message


@pytest.mark.parametrize("attach", [AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN])
def test_void_function_has_no_return_value_to_read(attach):
    """A void return takes no slot in the context (the kernel's btf_ctx_arg_idx), so
    reading after the arguments is past the end, one further than the return value."""
    btf = BTF.load(VMLINUX)
    name, count = _function(btf, void_return=True)
    text = f"r0 = *(u64 *)(r1 +{8 * count})\nr0 = 0\nexit"
    verdict = verify(assemble(text), ProgramType.TRACING, {}, attach_type=attach, attach_to=name, log_level=1)
    assert not verdict.accepted and f"func '{name}' doesn't have {count + 2}-th argument" in verdict.log


@pytest.mark.parametrize(("attach", "target", "message"), [
    (AttachType.TRACE_RAW_TP, "verifierbtf_no_such_tracepoint", "the kernel's BTF has no typedef "
                                                                 "btf_trace_verifierbtf_no_such_tracepoint"),
    (AttachType.TRACE_FENTRY, "verifierbtf_no_such_function", "the kernel's BTF has no func "
                                                              "verifierbtf_no_such_function"),
    (AttachType.TRACE_ITER, "verifierbtf_none", "the kernel's BTF has no func bpf_iter_verifierbtf_none"),
])
def test_a_target_the_kernel_lacks_is_enoent(attach, target, message):
    verdict = verify(assemble("r0 = 0\nexit"), ProgramType.TRACING, {}, attach_type=attach, attach_to=target)
    assert (verdict.accepted, verdict.errno, verdict.message) == (False, errno.ENOENT, message)


def test_tracing_without_a_target_is_einval():
    verdict = verify(assemble("r0 = 0\nexit"), ProgramType.TRACING, {})
    assert (verdict.accepted, verdict.errno, verdict.message) == (False, errno.EINVAL,
                                                                  "Tracing programs must provide btf_id")


def test_vm_engine_refuses_a_missing_target_with_enoent():
    import pybpf
    from pybpf.engine import BPFError
    from pybpf.object import CollectionSpec

    spec = ProgramSpec("verifierbtf", ProgramType.TRACING, assemble("r0 = 0\nexit"),
                       expected_attach_type=AttachType.TRACE_FENTRY, attach_to="verifierbtf_no_such_function")
    with pytest.raises(BPFError) as caught:
        pybpf.load(CollectionSpec({}, {"verifierbtf": spec}), engine="vm")
    assert caught.value.errno == errno.ENOENT


C_SOURCE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} switches SEC(".maps");

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); }
	by_pid SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(count_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u32 pid = prev->pid;
	u64 one = 1, *count = bpf_task_storage_get(&switches, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (count)
		*count += 1;
	bpf_map_update_elem(&by_pid, &pid, &one, BPF_ANY);
	return bpf_get_current_task_btf()->tgid == next->tgid;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(untrusted_task, bool preempt, struct task_struct *prev)
{
	bpf_task_storage_get(&switches, prev->parent, 0, 0);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(wrong_struct, bool preempt, struct task_struct *prev)
{
	bpf_task_storage_get(&switches, (struct task_struct *)prev->cgroups, 0, 0);
	return 0;
}

SEC("iter/task")
int each_task(struct bpf_iter__task *ctx)
{
	static const char fmt[] = "%d\n";
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	u64 args[1];

	if (!task)
		return 0;
	args[0] = task->pid;
	bpf_seq_printf(seq, fmt, sizeof(fmt), args, sizeof(args));
	return 0;
}

SEC("iter/task")
int storage_of_maybe_null_task(struct bpf_iter__task *ctx)
{
	bpf_task_storage_get(&switches, ctx->task, 0, 0);
	return 0;
}

SEC("iter/task")
int each_task_unchecked(struct bpf_iter__task *ctx)
{
	return ctx->task->pid & 1;
}

SEC("iter/bpf_map_elem")
int sum_elems(struct bpf_iter__bpf_map_elem *ctx)
{
	u32 *key = ctx->key;
	u64 *value = ctx->value;

	if (!key || !value)
		return 0;
	*value += *key + ctx->map->id;
	return 0;
}

SEC("iter/bpf_map_elem")
int write_key(struct bpf_iter__bpf_map_elem *ctx)
{
	u32 *key = ctx->key;

	if (key)
		*key = 0;
	return 0;
}

SEC("iter/bpf_map_elem")
int unchecked_value(struct bpf_iter__bpf_map_elem *ctx)
{
	u64 *value = ctx->value;

	return *value;
}

SEC("iter/bpf_map_elem")
int value_to_helper(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	void *value = ctx->value;

	if (value)
		bpf_seq_write(seq, value, 8);
	return 0;
}

SEC("fentry/vfs_read")
int BPF_PROG(read_entry, struct file *file, char *buf, size_t count)
{
	return file->f_inode->i_ino == count;
}

SEC("fexit/vfs_read")
int BPF_PROG(read_exit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	return ret > 0 && file->f_flags;
}

SEC("fentry/vfs_read")
int BPF_PROG(read_entry_ret, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
"""

EXPECTED = {
    "count_switch": "",
    "untrusted_task": "R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_",
    "wrong_struct": "R2 is of type css_set but task_struct is expected",
    "each_task": "",
    "each_task_unchecked": "R1 invalid mem access 'trusted_ptr_or_null_'",
    "storage_of_maybe_null_task": "",
    # a map element iterator: its key is read-only, key and value NULL at the end, its map not
    "sum_elems": "",
    "write_key": "R1 cannot write into rdonly_buf",
    "unchecked_value": "R1 invalid mem access 'buf_or_null'",
    "value_to_helper": "",
    "read_entry": "",
    "read_exit": "",
    "read_entry_ret": "invalid bpf_context access off=32 size=8",
}


@pytest.fixture(scope="module")
def c_program(tmp_path_factory):
    path = tmp_path_factory.mktemp("verifierbtf") / "verifierbtf.bpf.c"
    path.write_text(C_SOURCE)
    return path


@pytest.mark.parametrize("program", sorted(EXPECTED))
def test_c_programs_with_pybpf_verify(c_program, capsys, program):
    from pybpf.cli import main

    status = main(["verify", str(c_program), "--section", program, "--json"])
    row = json.loads(capsys.readouterr().out)
    assert (row["accepted"], row["message"]) == (not EXPECTED[program], EXPECTED[program])
    assert status == (0 if row["accepted"] else 1)
    if "_or_null" in row["message"]:        # where the maybe-NULL pointer was read, and the C line
        assert "came from the load at instruction" in row["why"] and "ctx->" in row["source"]


@pytest.mark.parametrize("program", ["count_switch", "untrusted_task", "wrong_struct", "each_task",
                                     "each_task_unchecked", "storage_of_maybe_null_task"])
def test_c_programs_against_the_kernel(c_program, capsys, program):
    """BTF tracepoints and iterators load on this kernel: ``--compare`` agrees."""
    from pybpf.cli import main
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    status = main(["verify", str(c_program), "--section", program, "--compare", "--json"])
    row = json.loads(capsys.readouterr().out)
    assert row["kernel"]["accepted"] == row["accepted"], row
    assert row["kernel"]["message"] == row["message"]
    assert status == 0


def test_vm_engine_loads_a_btf_tracepoint_program(tmp_path):
    """The vm engine verifies a tp_btf program against its target (it refused every
    context read of one before the context was typed)."""
    import pybpf

    path = tmp_path / "verifierbtf_switch.bpf.c"
    path.write_text(r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); }
	seen SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u32 pid = prev->pid;
	u64 one = 1;

	bpf_map_update_elem(&seen, &pid, &one, BPF_ANY);
	return next->real_parent->tgid == 1;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(writes_task, bool preempt, struct task_struct *prev)
{
	prev->pid = 0;
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
""")
    from pybpf.object import CollectionSpec

    spec = pybpf.read(path)
    good = CollectionSpec(dict(spec.maps), {"on_switch": spec.programs["on_switch"]})
    with pybpf.load(good, engine="vm") as loaded:
        assert "on_switch" in loaded.programs
    from pybpf.engine import VerifierError

    bad = CollectionSpec({}, {"writes_task": spec.programs["writes_task"]})
    with pytest.raises(VerifierError) as caught:
        pybpf.load(bad, engine="vm")
    assert "only read is supported" in str(caught.value) and caught.value.errno == errno.EACCES


SOCKET_CASES = [
    # tcp_probe(struct sock *sk, struct sk_buff *skb): the cookie of its socket
    ("cookie of the tracepoint's socket", "r1 = *(u64 *)(r1 +0)\ncall 46\nr0 = 0\nexit", ""),
    ("cookie of NULL", "r1 = 0\ncall 46\nr0 = 0\nexit", ""),
    ("cookie of a number", "r1 = 1\ncall 46\nr0 = 0\nexit",
     "R1 type=scalar expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"),
    ("a socket as a tcp_sock, NULL-checked", "r1 = *(u64 *)(r1 +0)\ncall 137\nif r0 == 0 goto +1\n"
     "r0 = *(u32 *)(r0 +0)\nr0 = 0\nexit", ""),
    ("a socket as a tcp_sock, unchecked", "r1 = *(u64 *)(r1 +0)\ncall 137\nr0 = *(u32 *)(r0 +0)\nr0 = 0\nexit",
     "R0 invalid mem access 'ptr_or_null_'"),
    ("a packet as a tcp_sock", "r1 = *(u64 *)(r1 +8)\ncall 137\nr0 = 0\nexit",
     "R1 is of type sk_buff but sock_common is expected"),
    ("cookie of a packet", "r1 = *(u64 *)(r1 +8)\ncall 46\nr0 = 0\nexit",
     "R1 is of type sk_buff but sock_common is expected"),
]


@pytest.mark.parametrize(("name", "text", "message"), SOCKET_CASES, ids=[case[0] for case in SOCKET_CASES])
def test_btf_sockets(name, text, message):
    """Helpers that take a socket as a BTF pointer (a struct sock starts with its
    sock_common) in a tracing program — bpf_get_socket_cookie, bpf_skc_to_tcp_sock (which
    may return NULL) — against the kernel where it can be asked."""
    btf = BTF.load(VMLINUX)
    if btf.find("btf_trace_tcp_probe", Kind.TYPEDEF) is None:
        pytest.skip("this kernel has no tcp_probe tracepoint")
    spec = ProgramSpec("verifierbtf", ProgramType.TRACING, assemble(text),
                       expected_attach_type=AttachType.TRACE_RAW_TP, attach_to="tcp_probe")
    verdict = _ours(spec)
    assert (verdict.accepted, verdict.message) == (not message, message)
    from pybpf.kernel.engine import available

    if available() is None:
        assert _kernel_message(spec)[:2] == (not message, message)


def test_verify_cli_attach_option(tmp_path, capsys):
    """``--attach SECTION`` gives assembly its program type and attach target."""
    from pybpf.cli import main

    path = tmp_path / "verifierbtf.asm"
    path.write_text("r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 -4)\nexit\n")
    assert main(["verify", str(path), "--attach", "tp_btf/sched_switch", "--json"]) == 1
    row = json.loads(capsys.readouterr().out)
    assert row["type"] == "tracing" and row["message"] == "R2 is ptr_task_struct invalid negative access: off=-4"
    assert main(["verify", str(path), "--attach", "fentry/verifierbtf_no_such_function"]) == 1
    assert "the kernel's BTF has no func verifierbtf_no_such_function" in capsys.readouterr().out
    assert main(["verify", str(path), "--attach", "verifierbtf/nonsense"]) == 1
    assert "--attach: 'verifierbtf/nonsense' is not a section name" in capsys.readouterr().err


BUFFER_CASES = [
    # bpf_iter_bpf_map_elem(meta, map, key, value): key at 16, value at 24
    ("value read", "r2 = *(u64 *)(r1 +24)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 +64)\nr0 = 0\nexit", ""),
    ("value read before its start", "r2 = *(u64 *)(r1 +24)\nif r2 == 0 goto +1\nr0 = *(u64 *)(r2 -8)\nr0 = 0\nexit",
     "R2 invalid rdwr buffer access: off=-8, size=8"),
    ("key at a variable offset", "r3 = *(u64 *)(r1 +8)\nr3 = *(u32 *)(r3 +0)\nr3 &= 4\nr2 = *(u64 *)(r1 +16)\n"
     "if r2 == 0 goto +2\nr2 += r3\nr0 = *(u8 *)(r2 +0)\nr0 = 0\nexit",
     "R2 invalid variable buffer offset: off=0, var_off=(0x0; 0x4)"),
    ("key written", "r2 = *(u64 *)(r1 +16)\nif r2 == 0 goto +1\n*(u32 *)(r2 +0) = 1\nr0 = 0\nexit",
     "R2 cannot write into rdonly_buf"),
    ("the walked map is never NULL", "r2 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r2 +0)\nexit", ""),
]


@pytest.mark.parametrize(("name", "text", "message"), BUFFER_CASES, ids=[case[0] for case in BUFFER_CASES])
def test_map_element_iterator_buffers(name, text, message):
    """A map element iterator's key and value are buffers (the kernel's PTR_TO_BUF):
    constant non-negative offsets, the key read-only (this kernel refuses to load these
    iterators here with EPERM, so the kernel's source gives the messages)."""
    verdict = verify(assemble(text), ProgramType.TRACING, {}, attach_type=AttachType.TRACE_ITER,
                     attach_to="bpf_map_elem")
    assert (verdict.accepted, verdict.message) == (not message, message)


@pytest.mark.parametrize(("attach", "target", "allowed"), [
    (AttachType.TRACE_FENTRY, "vfs_read", True), (AttachType.TRACE_FEXIT, "vfs_read", True),
    (AttachType.MODIFY_RETURN, "vfs_read", True), (AttachType.TRACE_RAW_TP, "sched_switch", False),
    (AttachType.TRACE_ITER, "task", False)])
def test_trampoline_helpers(attach, target, allowed):
    """bpf_get_func_arg/ret/arg_cnt read what a trampoline saved: fentry, fexit,
    fmod_ret (and LSM) programs only; the value goes to 8 bytes of memory."""
    from pybpf.isa.helpers import helper_id

    for name, text in (("get_func_arg", "r2 = 0\nr3 = r10\nr3 += -8\n"), ("get_func_ret", "r2 = r10\nr2 += -8\n"),
                       ("get_func_arg_cnt", "")):
        verdict = verify(assemble(f"{text}call {helper_id(name)}\nr0 = 0\nexit"), ProgramType.TRACING, {},
                         attach_type=attach, attach_to=target)
        refusal = f"program of this type cannot use helper bpf_{name}#{helper_id(name)}"
        assert (verdict.accepted, verdict.message) == ((True, "") if allowed else (False, refusal))
    short = verify(assemble(f"r2 = r10\nr2 += -4\ncall {helper_id('get_func_ret')}\nr0 = 0\nexit"),
                   ProgramType.TRACING, {}, attach_type=attach, attach_to=target)
    assert not short.accepted
