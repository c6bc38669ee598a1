"""The eBPF conformance suite (tests/data/conformance) on the vm engine, on the
interpreter and on the JIT each (``vm.run`` alone would only try its default): every
program gives its expected r0, and every negative case is refused by the assembler, the
decoder or the engine."""

from __future__ import annotations

import pytest

from conformance_data import raw_bytes, sections
from pybpf.isa import AsmError, assemble
from pybpf.vm import VMError, run
from shared_data import shared_files

TESTS = shared_files("conformance", "tests")
NEGATIVE = shared_files("conformance", "negative")
ENGINES = pytest.mark.parametrize("jit", [False, True], ids=["interpreter", "jit"])


def _program_and_memory(path):
    parts = sections(path)
    program = raw_bytes(parts["raw"]) if "raw" in parts and "asm" not in parts else assemble(parts.get("asm", ""))
    return parts, program, bytes.fromhex("".join(parts.get("mem", "").split()))


def test_the_whole_suite_is_there():
    assert (len(TESTS), len(NEGATIVE)) == (313, 60)


@ENGINES
@pytest.mark.parametrize("path", TESTS, ids=[p.name for p in TESTS])
def test_conformance(path, jit):
    parts, program, memory = _program_and_memory(path)
    expected = int(parts["result"].split()[0], 16)
    assert run(program, memory, jit=jit) == expected


@ENGINES
@pytest.mark.parametrize("path", NEGATIVE, ids=[p.name for p in NEGATIVE])
def test_negative(path, jit):
    parts = sections(path)
    if path.name == "incorrect_return_value_high_bits.data":
        _, program, memory = _program_and_memory(path)
        assert run(program, memory, jit=jit) != int(parts["result"].split()[0], 16)
        return
    with pytest.raises((AsmError, VMError)):
        _, program, memory = _program_and_memory(path)
        run(program, memory, jit=jit)
