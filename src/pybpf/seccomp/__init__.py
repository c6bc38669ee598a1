"""Seccomp filters: classic BPF programs that decide, system call by system call, what a
process may do. Build one from a policy, read it, dry-run it, install it.

    policy = SeccompPolicy(default="allow").deny("ptrace", errno=1).allow("write", arg(0) == 1)
    program = policy.build()                    # list[cbpf.Instruction]
    test_run(program, "ptrace")                 # Action('errno', 1)
    run_confined(policy, ["ls"])                # fork, install, exec

x86-64 only (system call numbers: :mod:`pybpf.seccomp.syscalls`).
"""

from pybpf.seccomp.actions import Action
from pybpf.seccomp.check import check_filter, test_run
from pybpf.seccomp.conditions import Condition, arg
from pybpf.seccomp.data import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64
from pybpf.seccomp.install import install, prepare, run_confined
from pybpf.seccomp.policy import Rule, SeccompPolicy
from pybpf.seccomp.printer import dump_filter

__all__ = ["AUDIT_ARCH_I386", "AUDIT_ARCH_X86_64", "Action", "Condition", "Rule", "SeccompPolicy", "arg",
           "check_filter", "dump_filter", "install", "prepare", "run_confined", "test_run"]
