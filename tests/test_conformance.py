"""The eBPF conformance suite (../shared/conformance) on the vm engine: every program
gives its expected r0, and every negative case is refused by the assembler, the decoder
or the engine."""

from __future__ import annotations

import pytest
from conformance_data import raw_bytes, sections

from shared_data import SHARED, shared_path
from pybpf.isa import AsmError, assemble
from pybpf.vm import VMError, run

TESTS = sorted((SHARED / "conformance" / "tests").glob("*.data"))
NEGATIVE = sorted((SHARED / "conformance" / "negative").glob("*.data"))


def _program_and_memory(path):
    parts = sections(path)
    program = raw_bytes(parts["raw"]) if "raw" in parts and "asm" not in parts else assemble(parts.get("asm", ""))
    return parts, program, bytes.fromhex("".join(parts.get("mem", "").split()))


@pytest.mark.parametrize("path", TESTS or [None], ids=[p.name for p in TESTS] or ["absent"])
def test_conformance(path):
    if path is None:
        shared_path("conformance", "tests")
    parts, program, memory = _program_and_memory(path)
    expected = int(parts["result"].split()[0], 16)
    assert run(program, memory) == expected


@pytest.mark.parametrize("path", NEGATIVE or [None], ids=[p.name for p in NEGATIVE] or ["absent"])
def test_negative(path):
    if path is None:
        shared_path("conformance", "negative")
    parts = sections(path)
    if path.name == "incorrect_return_value_high_bits.data":
        _, program, memory = _program_and_memory(path)
        assert run(program, memory) != int(parts["result"].split()[0], 16)
        return
    with pytest.raises((AsmError, VMError)):
        _, program, memory = _program_and_memory(path)
        run(program, memory)
