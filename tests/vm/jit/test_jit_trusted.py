"""Code for programs pybpf's verifier accepted drops the checks the verifier made
unnecessary (budget, register initialisation, bounds of proven stack and packet
accesses) and keeps the interpreter's answers; unverified code keeps every check; and
divisions by a register (full-width ``div``/``idiv`` on x86-64) give the interpreter's
results at both widths, signed and unsigned, at the edges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import assemble
from pybpf.verifier import verify
from pybpf.vm import CheckedProgram, VMError, run_program

pytest.importorskip("llvmlite.binding")
from pybpf.vm.jit import CompiledProgram, compile_program  # noqa: E402

LOOP = """
    r1 = 0
    *(u64 *)(r10 -8) = r1
    r2 = 0
loop:
    r1 = *(u64 *)(r10 -8)
    r1 += r2
    *(u64 *)(r10 -8) = r1
    r2 += 1
    if r2 < 1000 goto loop
    r0 = *(u64 *)(r10 -8)
    exit
"""


def test_the_verifier_reports_what_each_access_reaches():
    verdict = verify(assemble(LOOP), "socket_filter")
    assert verdict.accepted
    assert set(verdict.accesses) == {1, 3, 5, 8}       # the loads and stores
    assert all(kinds == frozenset({"fp"}) for kinds in verdict.accesses.values())


def test_trusted_code_counts_no_budget_and_gives_the_same_result():
    code = assemble(LOOP)
    expected = run_program(code, jit=False).retval
    checked = CompiledProgram(CheckedProgram(code))
    trusted = CompiledProgram(CheckedProgram(code), trusted=verify(code, "socket_filter").accesses)
    with pytest.raises(VMError, match="ran 100 instructions"):
        checked.run(max_instructions=100)          # the unverified code keeps its budget
    run = trusted.run(max_instructions=100)
    assert run.retval == expected == sum(range(1000))
    assert run.instructions == 0                   # nothing counted


def test_unverified_code_keeps_its_bounds_checks():
    code = assemble("r1 = 0\n*(u64 *)(r10 +8) = r1\nr0 = 0\nexit")     # above the stack's top
    assert not verify(code, "socket_filter").accepted
    with pytest.raises(VMError, match="invalid write"):
        run_program(code, jit=True)


def test_trusted_and_plain_code_are_cached_apart():
    code = assemble(LOOP)
    accesses = verify(code, "socket_filter").accesses
    assert compile_program(code) is not compile_program(code, trusted=accesses)
    assert compile_program(code, trusted=accesses) is compile_program(code, trusted=accesses)


_EDGES = [0, 1, 2, 3, 7, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
          0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF]
_OPS = ["/=", "%=", "s/=", "s%="]


@settings(max_examples=40, deadline=None)   # (each example compiles a program)
@given(a=st.one_of(st.sampled_from(_EDGES), st.integers(0, (1 << 64) - 1)),
       b=st.one_of(st.sampled_from(_EDGES), st.integers(0, (1 << 64) - 1)),
       op=st.sampled_from(_OPS), wide=st.booleans())
def test_divisions_by_a_register_match_the_interpreter(a, b, op, wide):
    reg = "r" if wide else "w"
    code = assemble(f"r1 = {a} ll\nr2 = {b} ll\n{reg}1 {op} {reg}2\nr0 = r1\nexit")
    assert run_program(code, jit=True).retval == run_program(code, jit=False).retval
