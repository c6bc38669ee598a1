"""Seccomp policies compiled to classic BPF and dry-run on the cBPF interpreter: every
action, the architecture and x32 checks, rule order, and 64-bit argument comparisons
checked against Python's own comparison of the same values (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.cbpf import CbpfError, dump
from pybpf.seccomp import AUDIT_ARCH_I386, Action, Condition, SeccompPolicy, arg, check_filter, dump_filter, test_run
from pybpf.seccomp.actions import errno, trace

M64 = (1 << 64) - 1


@pytest.mark.parametrize("spec, expected, value", [
    ("allow", Action("allow"), 0x7FFF0000),
    ("kill_process", Action("kill_process"), 0x80000000),
    ("kill_thread", Action("kill_thread"), 0),
    ("errno(13)", errno(13), 0x0005000D),
    ("trap", Action("trap"), 0x00030000),
    ("trace(7)", trace(7), 0x7FF00007),
    ("log", Action("log"), 0x7FFC0000),
    ("user_notif", Action("user_notif"), 0x7FC00000),
])
def test_every_action_as_default(spec, expected, value):
    program = SeccompPolicy(default=spec).build()
    assert Action.parse(spec) == expected and expected.value == value
    assert test_run(program, "getpid") == expected
    assert Action.from_value(value) == expected


@pytest.mark.parametrize("spec, why", [
    ("frobnicate", "unknown seccomp action 'frobnicate'"),
    ("errno(70000)", "not in 0..65535"),
    ("allow(3)", "'allow' takes no data"),
    ("errno(x)", "'x' is not a number"),
])
def test_bad_actions(spec, why):
    with pytest.raises(CbpfError, match=why):
        SeccompPolicy(default=spec)


def test_unknown_action_values_kill_the_process():
    assert Action.from_value(0x12340000) == Action("kill_process")


def test_architecture_and_x32_are_checked_first():
    program = SeccompPolicy(default="allow").build()
    assert test_run(program, "read") == Action("allow")
    assert test_run(program, "read", arch=AUDIT_ARCH_I386) == Action("kill_process")
    assert test_run(program, 0x40000000 | 1) == Action("kill_process")          # x32 write
    relaxed = SeccompPolicy(default="allow", bad_arch="errno(38)").build()
    assert test_run(relaxed, "read", arch=AUDIT_ARCH_I386) == errno(38)


def test_rules_per_syscall_in_order():
    policy = (SeccompPolicy(default="kill_process")
              .deny("ptrace", errno=1)
              .allow("write", arg(0) == 1)
              .allow("write", arg(0) == 2)
              .rule("log", "write")
              .allow("write", arg(0) == 3)              # after an unconditional rule: never reached
              .rule("errno(5)", 0, arg(2) > 100)        # read, by number
              .allow("exit_group"))
    program = policy.build()
    assert test_run(program, "ptrace") == errno(1)
    assert test_run(program, "write", (1,)) == test_run(program, "write", (2,)) == Action("allow")
    assert test_run(program, "write", (3,)) == Action("log")
    assert test_run(program, "read", (0, 0, 101)) == errno(5)
    assert test_run(program, "read", (0, 0, 100)) == Action("kill_process")
    assert test_run(program, "exit_group") == Action("allow")
    assert test_run(program, "openat") == Action("kill_process")
    assert policy.listing().splitlines() == [
        "arch != x86_64: kill_process", "ptrace: errno(1)", "write if arg0 == 0x1: allow",
        "write if arg0 == 0x2: allow", "write: log", "write if arg0 == 0x3: allow", "read if arg2 > 0x64: errno(5)",
        "exit_group: allow", "otherwise: kill_process"]


def test_unknown_syscall_and_bad_conditions():
    with pytest.raises(CbpfError, match="unknown x86-64 system call 'frob'"):
        SeccompPolicy(default="allow").allow("frob")
    with pytest.raises(CbpfError, match="arguments 0 to 5, not 6"):
        arg(6)
    with pytest.raises(CbpfError, match="is not an argument condition"):
        SeccompPolicy(default="allow").allow("write", True)
    with pytest.raises(CbpfError, match="unknown comparison 'approx'"):
        Condition(0, "approx", 1)


_VALUES = st.one_of(st.integers(0, M64), st.sampled_from([0, 1, 0xFFFFFFFF, 1 << 32, (1 << 32) + 1, M64]),
                    st.integers(0, 3).map(lambda n: (n << 32) | 5))
_OPS = ["eq", "ne", "lt", "le", "gt", "ge", "masked_eq"]


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(_OPS), index=st.integers(0, 5), value=_VALUES, mask=_VALUES,
       args=st.lists(_VALUES, min_size=6, max_size=6))
def test_64_bit_comparisons_agree_with_python(op, index, value, mask, args):
    if args[index] % 3 == 0:
        args[index] = value                                      # often exactly equal, or sharing a half
    elif args[index] % 3 == 1:
        args[index] = (value & ~0xFFFFFFFF) | (args[index] & 0xFFFFFFFF)
    cond = Condition(index, op, value, mask)
    program = SeccompPolicy(default="errno(1)").allow("ioctl", cond).build()
    expected = Action("allow") if cond.holds(tuple(args)) else errno(1)
    assert test_run(program, "ioctl", args) == expected, str(cond)


def test_comparison_operators_and_several_conditions():
    conditions = [arg(0) == 5, arg(0) != 5, arg(1) < 5, arg(1) <= 5, arg(2) > 5, arg(2) >= 5,
                  arg(3).masked_eq(0xF0, 0x30)]
    assert [cond.op for cond in conditions] == _OPS
    assert str(conditions[-1]) == "arg3 & 0xf0 == 0x30"
    program = SeccompPolicy(default="errno(1)").allow("mmap", arg(0) == 0, arg(2) >= 3, arg(3) != 0).build()
    assert test_run(program, "mmap", (0, 4096, 3, 0x22)) == Action("allow")
    assert test_run(program, "mmap", (0, 4096, 3, 0)) == errno(1)
    assert test_run(program, "mmap", (0, 4096, 1, 0x22)) == errno(1)
    assert test_run(program, "mmap", (-1 & M64, 4096, 3, 0x22)) == errno(1)
    assert (arg(0) == -1).value == M64                        # registers hold 64 bits: -1 is all ones


def test_long_blocks_are_entered_through_ja():
    policy = SeccompPolicy(default="allow")
    for n in range(80):                                       # 80 rules x 5 instructions: past jt/jf's reach
        policy.deny("openat", arg(1) == n, errno=n + 1)
    policy.deny("close", errno=9)
    program = policy.build()
    assert len(program) > 400
    assert test_run(program, "openat", (0, 79)) == errno(80)
    assert test_run(program, "openat", (0, 80)) == Action("allow")
    assert test_run(program, "close") == errno(9)
    assert "ja not_257" in policy.assembly()


def test_printers():
    policy = SeccompPolicy(default="allow").deny("ptrace", errno=1).allow("write", arg(0) == 1)
    program = policy.build()
    text = dump_filter(program)
    assert "ld [4]" in text and "; arch" in text and "; errno(1)" in text and "; arg0 low word" in text
    assert dump_filter(policy, "policy").startswith(policy.listing())
    assert "; rule: write if arg0 == 0x1: allow" in dump_filter(policy, "policy")
    assert dump_filter(policy, "d") == dump(program)
    assert dump_filter(program, "bytecode").startswith(f"{len(program)},32 0 0 4,")
    assert dump_filter(program, "c").startswith("{ 0x20,  0,  0, 0x00000004 },")
    with pytest.raises(CbpfError, match="unknown seccomp dump style"):
        dump_filter(program, "yaml")
    with pytest.raises(CbpfError, match="needs a SeccompPolicy"):
        dump_filter(program, "policy")
    check_filter(program)
