"""Interpreter and JIT give the same answer — r0, printed output, instructions executed,
or the same fault message at the same instruction — on random programs that fault,
call helpers, call subprograms and read memory before writing it (tests/vm/program_fuzz.py).
``PYBPF_FUZZ_PROGRAMS`` raises the number of programs (CI runs a small number)."""

from __future__ import annotations

import os
import random

import pytest

from pybpf.isa import AsmError, assemble
from pybpf.vm import VMError, run_program
from pybpf.vm.jit import JitUnsupported, compile_program

from program_fuzz import program

COUNT = int(os.environ.get("PYBPF_FUZZ_PROGRAMS", "300"))


def _outcome(instructions, data: bytes, jit: bool):
    try:
        result = run_program(instructions, data, max_instructions=10_000, jit=jit)
        return ("ok", result.retval, result.output, result.instructions)
    except VMError as exc:
        return ("fault", str(exc))


@pytest.mark.parametrize("block", range(10))
def test_interpreter_and_jit_agree_on_random_programs(block):
    compared = 0
    for seed in range(block * COUNT // 10, (block + 1) * COUNT // 10):
        rng = random.Random(seed)
        text = program(rng)
        try:
            instructions = assemble(text)
        except AsmError:
            continue
        try:
            compile_program(instructions)
        except (VMError, JitUnsupported):
            continue        # refused at load: the same check runs before both
        data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 14, 40, 64])))
        interpreted = _outcome(instructions, data, jit=False)
        compiled = _outcome(instructions, data, jit=True)
        assert compiled == interpreted, f"seed {seed}:\n{text}"
        compared += 1
    assert compared >= COUNT // 20


def test_stack_read_before_write_is_zero_on_the_jit():
    """The reproducer of host memory read through the JIT's stack: reads below r10 at an
    offset given at run time (the input length) return 0, as on the interpreter."""
    from shared_data import SHARED

    text = "r1 = r10\nr1 -= r2\nr0 = *(u64 *)(r1 +0)\nexit\n"
    if (SHARED / "reproducers" / "jit_uninit_stack_leak.asm").exists():
        assert assemble((SHARED / "reproducers" / "jit_uninit_stack_leak.asm").read_text()) == assemble(text)
    for length in range(8, 513, 8):
        assert run_program(assemble(text), bytes(length), jit=True).retval == 0, length


def test_helpers_that_write_memory_run_under_the_jit():
    text = """
    r1 = r10
    r1 += -8
    r2 = 8
    r3 = r10
    r3 += -16
    *(u64 *)(r10 -16) = 7
    call bpf_probe_read_kernel
    r0 = *(u64 *)(r10 -8)
    exit
    """
    assert run_program(assemble(text), b"", jit=True).retval == 7
    assert run_program(assemble(text), b"", jit=False).retval == 7
