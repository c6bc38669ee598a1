"""Helper work counts in the instruction budget and bpf_trace_printk's kept output is
bounded, on the interpreter and the JIT alike: a program looping over an expensive helper
is stopped by ``max_instructions`` as a loop of plain instructions is, and cannot make a
run keep unbounded text."""

from __future__ import annotations

import time

import pytest

from pybpf.isa import assemble
from pybpf.vm import VMError, run_program
from pybpf.vm.helpers.operands import COPY_BYTES_PER_UNIT
from pybpf.vm.helpers.printk import MAX_OUTPUT, PRINTK_BYTES_PER_UNIT, PRINTK_COST
from pybpf.vm.interpreter import JIT_DEFAULT

ENGINES = [False, pytest.param(True, marks=pytest.mark.skipif(not JIT_DEFAULT, reason="llvmlite is not installed"))]

#: "%s" at r10-8, 32 "A"s and a NUL at r10-128; bpf_trace_printk("%s", that) COUNT times
LOOP = """
    r1 = 0x7325
    *(u64 *)(r10 - 8) = r1
    r1 = 0x4141414141414141 ll
    *(u64 *)(r10 - 128) = r1
    *(u64 *)(r10 - 120) = r1
    *(u64 *)(r10 - 112) = r1
    *(u64 *)(r10 - 104) = r1
    r1 = 0
    *(u64 *)(r10 - 96) = r1
    r6 = 0
loop:
    r1 = r10
    r1 += -8
    r2 = 8
    r3 = r10
    r3 += -128
    call bpf_trace_printk
    r6 += 1
    if r6 < {count} goto loop
    r0 = r6
    exit
"""
SETUP, PER_CALL = 10, 8       # instructions before the loop, and in each round of it
CHARGE = PRINTK_COST + (8 + 2 * 32) // PRINTK_BYTES_PER_UNIT


@pytest.mark.parametrize("jit", ENGINES)
def test_a_run_counts_helper_work_in_its_budget(jit):
    result = run_program(assemble(LOOP.format(count=3)), jit=jit)
    assert result.output == ("A" * 32,) * 3
    assert result.instructions == SETUP + 3 * PER_CALL + 2 + 3 * CHARGE


@pytest.mark.parametrize("jit", ENGINES)
def test_a_loop_over_an_expensive_helper_is_stopped_by_the_budget(jit):
    # 2,000 rounds are 16,012 instructions: within 20,000 without the helpers' cost
    program = assemble(LOOP.format(count=2000))
    assert run_program(program, jit=jit, max_instructions=20_000 + 2000 * CHARGE).retval == 2000
    with pytest.raises(VMError, match="ran 20000 instructions without finishing"):
        run_program(program, jit=jit, max_instructions=20_000)


@pytest.mark.parametrize("jit", ENGINES)
def test_kept_output_is_bounded_and_says_what_it_dropped(jit):
    rounds = 3 * MAX_OUTPUT // 32
    result = run_program(assemble(LOOP.format(count=rounds)), jit=jit, max_instructions=10**8)
    assert result.retval == rounds
    kept = result.output[:-1]
    assert set(kept) == {"A" * 32} and len(kept) == MAX_OUTPUT // 32
    assert result.output[-1] == (f"[pybpf: output beyond {MAX_OUTPUT} bytes dropped: "
                                 f"{(rounds - len(kept)) * 32} bytes]\n")


@pytest.mark.parametrize("jit", ENGINES)
@pytest.mark.parametrize("budget", [0, -1, -(1 << 70)])
def test_a_budget_below_one_is_refused(jit, budget):
    with pytest.raises(VMError, match="max_instructions must be a whole number of at least 1"):
        run_program(assemble("r0 = 0\nexit"), jit=jit, max_instructions=budget)


#: a loop copying SIZE bytes from the second half of the input to its first, COUNT times
COPY_LOOP = """
    r6 = r1
    r7 = 0
loop:
    r1 = r6
    r2 = {size}
    r3 = r6
    r3 += {size}
    call {helper}
    r7 += 1
    if r7 < {count} goto loop
    r0 = r7
    exit
"""
COPY_SETUP, COPY_ROUND = 2, 7


@pytest.mark.parametrize("jit", ENGINES)
@pytest.mark.parametrize("helper", ["bpf_probe_read_kernel", "bpf_probe_read_user_str", "bpf_probe_read"])
def test_copies_count_their_bytes_in_the_budget(jit, helper):
    size = 4096
    program = assemble(COPY_LOOP.format(size=size, count=3, helper=helper))
    result = run_program(program, b"A" * (2 * size), jit=jit)
    assert result.retval == 3
    assert result.instructions == COPY_SETUP + 3 * COPY_ROUND + 2 + 3 * (size // COPY_BYTES_PER_UNIT)


@pytest.mark.parametrize("jit", ENGINES)
def test_a_loop_of_large_copies_ends_quickly_within_the_default_budget(jit):
    # 1 MiB copied ~140,000 times is minutes of memcpy; charged by its bytes, the default
    # budget stops it after about 60 copies
    size = 1 << 20
    program = assemble(COPY_LOOP.format(size=size, count=1_000_000, helper="bpf_probe_read_kernel"))
    started = time.monotonic()
    with pytest.raises(VMError, match="without finishing"):
        run_program(program, b"A" * (2 * size), jit=jit)
    assert time.monotonic() - started < 10

