"""Large branch-heavy programs on the JIT: the path for large functions (runtime.LARGE_OPT's
pipeline, built with the cyclic collector paused) must give the interpreter's answers —
r0, the executed-instruction count, and the budget's error at the same instruction.
Not a timing test: benchmarks/jit.py measures compile times (docs/jit.md)."""

from __future__ import annotations

import random

import pytest

from pybpf.isa import assemble
from pybpf.vm import CheckedProgram, VMError, run_program
from pybpf.vm.jit import CompiledProgram, runtime

#: the registers the program computes with (all written before the body)
REGS = (0, 3, 4, 5, 8, 9)
INPUT = 16
OPS = ("+=", "-=", "*=", "^=", "|=", "&=", ">>=", "<<=", "s>>=", "/=", "%=")
JUMPS = ("==", "!=", ">", ">=", "<", "<=", "s>", "s<", "&")


def branchy(rng: random.Random, size: int) -> str:
    """About ``size`` instructions: a forward conditional jump every third instruction on
    average, over ALU (both widths), stack stores and loads, and loads of the 16-byte
    input, so that which path runs depends on the input. Every path exits."""
    lines = ["r6 = r1", *(f"r{r} = *(u8 *)(r6 +{k})" for k, r in enumerate(REGS))]
    pending: list[tuple[int, str]] = []
    for n in range(size - len(lines) - 3):
        while pending and pending[0][0] <= n:
            lines.append(f"{pending.pop(0)[1]}:")
        roll, dst, src = rng.random(), rng.choice(REGS), rng.choice(REGS)
        if roll < 0.35:
            width = "r" if rng.random() < 0.7 else "w"
            operand = f"{width}{src}" if rng.random() < 0.4 else str(rng.randint(-300, 300))
            lines.append(f"{width}{dst} {rng.choice(OPS)} {operand}")
        elif roll < 0.45:
            lines.append(f"*(u64 *)(r10 -{8 * rng.randint(1, 16)}) = r{src}")
        elif roll < 0.55:
            lines.append(f"r{dst} = *(u64 *)(r10 -{8 * rng.randint(1, 16)})")
        elif roll < 0.62:
            lines.append(f"r{dst} = *(u8 *)(r6 +{rng.randrange(INPUT)})")
        else:
            label = f"l{n}"
            pending.append((n + rng.randint(1, 8), label))
            pending.sort()
            other = f"r{src}" if rng.random() < 0.4 else str(rng.randint(-2, 300))
            lines.append(f"if r{dst} {rng.choice(JUMPS)} {other} goto {label}")
    lines += [f"{label}:" for _, label in pending]
    lines += ["r0 ^= r3", "r0 += r4", "exit"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def large():
    code = assemble(branchy(random.Random(20), 20_000))
    assert len(code) >= 20_000
    assert runtime.opt_level(len(code)) == runtime.LARGE_OPT
    checked = CheckedProgram(code)
    return code, CompiledProgram(checked)     # compiled here, in this process: no cache


def test_large_branchy_program_gives_the_interpreters_results(large):
    code, compiled = large
    rng = random.Random(21)
    inputs = [bytes(INPUT), bytes(range(INPUT)), b"\xff" * INPUT] + [rng.randbytes(INPUT) for _ in range(5)]
    seen = set()
    for mem in inputs:
        expected = run_program(code, mem, jit=False, max_instructions=1 << 20)
        got = compiled.run(mem, max_instructions=1 << 20)
        assert (got.retval, got.instructions) == (expected.retval, expected.instructions), mem.hex()
        seen.add(expected.instructions)
    assert len(seen) > 1, "the inputs should take different paths through the program"


@pytest.mark.parametrize("budget", [1, 4_321, 9_876])
def test_large_program_stops_at_the_interpreters_instruction(large, budget):
    code, compiled = large
    mem = bytes(range(INPUT))
    with pytest.raises(VMError) as interpreted:
        run_program(code, mem, jit=False, max_instructions=budget)
    with pytest.raises(VMError) as jitted:
        compiled.run(mem, max_instructions=budget)
    assert (str(jitted.value), jitted.value.index) == (str(interpreted.value), interpreted.value.index)
