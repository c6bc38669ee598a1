"""A differential fuzzer: random programs (random_programs.py) on the interpreter and on
the JIT must give the same r0, output and executed-instruction count, or the same error
message at the same instruction; where root, the subset a socket filter may run is also
compared with the kernel (BPF_PROG_TEST_RUN).

The CI size is small (a few seconds); ``PYBPF_JIT_FUZZ=N`` runs N programs per test
(``PYBPF_JIT_FUZZ_SEED`` picks the seed), e.g.
``PYBPF_JIT_FUZZ=5000 pytest tests/vm/jit/test_jit_differential.py``.
"""

from __future__ import annotations

import os
import random

import pytest
from random_programs import generate

from pybpf.isa import assemble
from pybpf.vm import VMError, run_program

COUNT = int(os.environ.get("PYBPF_JIT_FUZZ", "40"))
SEED = int(os.environ.get("PYBPF_JIT_FUZZ_SEED", "12"))
INPUTS = [b"", b"\x01\x02\x03", bytes(range(16)), b"\xff" * 40]


def outcome(program, mem: bytes, jit: bool):
    try:
        result = run_program(program, mem, jit=jit, max_instructions=4000)
    except VMError as exc:
        return ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - a helper's own failure (e.g. a huge probe-read size) must match too
        return (type(exc).__name__, str(exc))
    return (result.retval, result.output, result.instructions)


def test_random_programs_agree_on_interpreter_and_jit():
    rng = random.Random(SEED)
    differences = []
    for n in range(COUNT):
        text = generate(rng, rng.randint(4, 40))
        program = assemble(text)
        mem = rng.choice(INPUTS)
        interpreted, compiled = outcome(program, mem, False), outcome(program, mem, True)
        if interpreted != compiled:
            differences.append(f"--- program {n} on {mem.hex()}:\n{text}interpreter: {interpreted}\nJIT: {compiled}")
    assert not differences, "\n".join(differences[:5])


def test_large_programs_agree_on_interpreter_and_jit():
    """Programs above runtime.LARGE slots take the cheaper pipeline (native.object_code)."""
    from pybpf.vm.jit import runtime

    rng = random.Random(SEED + 2)
    differences = []
    for n in range(max(COUNT // 50, 2)):
        text = generate(rng, 260)
        program = assemble(text)
        assert sum(ins.slots for ins in program) > runtime.LARGE
        for mem in INPUTS:
            interpreted, compiled = outcome(program, mem, False), outcome(program, mem, True)
            if interpreted != compiled:
                differences.append(f"--- program {n} on {mem.hex()}:\n{text}interpreter: {interpreted}\nJIT: {compiled}")
    assert not differences, "\n".join(differences[:3])


@pytest.mark.skipif(os.geteuid() != 0, reason="comparing with the kernel needs root")
def test_random_programs_agree_with_the_kernel():
    from pybpf.engine import load
    from pybpf.object import ProgramSpec

    rng = random.Random(SEED + 1)
    differences = []
    for n in range(max(COUNT // 10, 5)):
        text = generate(rng, rng.randint(4, 30), kernel=True)
        program = assemble(text)
        compiled = run_program(program, bytes(64), jit=True).retval
        interpreted = run_program(program, bytes(64), jit=False).retval
        with load(ProgramSpec("jit_fuzz", "socket_filter", program), engine="kernel") as collection:
            kernel = collection.programs["jit_fuzz"].test_run(bytes(64)).retval
        if not kernel == compiled & 0xFFFF_FFFF == interpreted & 0xFFFF_FFFF:
            differences.append(f"--- program {n}:\n{text}kernel {kernel} JIT {compiled} interpreter {interpreted}")
    assert not differences, "\n".join(differences[:5])
