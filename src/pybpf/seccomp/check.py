"""What the kernel checks of a seccomp filter beyond any classic program, and a dry run
of a filter on one system call through the cBPF interpreter.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import CbpfError, Instruction
from pybpf.cbpf.interpreter import run
from pybpf.cbpf.translate import validate
from pybpf.seccomp import data, syscalls
from pybpf.seccomp.actions import Action

#: the opcodes kernel/seccomp.c (seccomp_check_filter) lets through besides the
#: ``ld [k]`` / ``ld #len`` / ``ldx #len`` it rewrites: no packet loads, no mod
SECCOMP_OPCODES = frozenset(
    [c.ALU | op | source for op in (c.ADD, c.SUB, c.MUL, c.DIV, c.AND, c.OR, c.XOR, c.LSH, c.RSH)
     for source in (c.K, c.X)]
    + [c.ALU | c.NEG, c.LD | c.IMM, c.LDX | c.IMM, c.MISC | c.TAX, c.MISC | c.TXA, c.LD | c.MEM, c.LDX | c.MEM,
       c.ST, c.STX, c.RET | c.K, c.RET | c.A, c.JMP | c.JA, c.LD | c.W | c.ABS, c.LD | c.W | c.LEN,
       c.LDX | c.W | c.LEN]
    + [c.JMP | op | source for op in (c.JEQ, c.JGE, c.JGT, c.JSET) for source in (c.K, c.X)])


def check_filter(program: Sequence[Instruction]) -> None:
    """Raise :class:`CbpfError` (naming the instruction) for a filter ``seccomp()`` would
    refuse with EINVAL: anything :func:`~pybpf.cbpf.translate.validate` refuses, then an
    opcode seccomp does not allow, or an ``ld [k]`` outside the 64-byte
    ``struct seccomp_data`` or not 4-byte aligned."""
    validate(program)
    for pc, ins in enumerate(program):
        if ins.code not in SECCOMP_OPCODES:
            raise CbpfError(f"instruction {pc}: opcode 0x{ins.code:02x} is not allowed in a seccomp filter "
                            f"(only 32-bit ld [k] loads of seccomp_data, no packet loads, no mod)")
        if ins.code == c.LD | c.W | c.ABS and (ins.k >= data.SIZE or ins.k % 4):
            raise CbpfError(f"instruction {pc}: ld [{ins.k}] is not an aligned word of the "
                            f"{data.SIZE}-byte seccomp_data")


def test_run(program: Sequence[Instruction], syscall: str | int, args: Sequence[int] = (),
             arch: int = data.AUDIT_ARCH_X86_64, ip: int = 0) -> Action:
    """The action ``program`` takes for one system call (a name or a number) with these
    arguments, without installing anything: the filter is checked as the kernel would,
    then run by the cBPF interpreter on the ``struct seccomp_data`` the kernel would fill."""
    check_filter(program)
    packet = data.pack(syscalls.number(syscall), tuple(args), arch, ip)
    return Action.from_value(run(program, packet))


test_run.__test__ = False  # a dry run, not a pytest test, wherever it is imported
