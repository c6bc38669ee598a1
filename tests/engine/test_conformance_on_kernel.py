"""Every conformance program that makes sense as a socket filter (no input memory, no
helper or local calls) runs on the kernel too and gives the vm's answer (the kernel's
test run returns 32 bits). Programs the kernel's verifier refuses (division by a zero
constant, out-of-range constant shifts...) are counted, not compared."""

from __future__ import annotations

import os

import pytest

from conformance_data import sections
from pybpf.engine import BPFError, load
from pybpf.isa import assemble
from pybpf.isa import opcodes as o
from pybpf.object import ProgramSpec
from pybpf.vm import run
from shared_data import shared_files

TESTS = shared_files("conformance", "tests")


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel engine needs root")
def test_conformance_programs_agree_with_the_kernel():
    compared = refused = 0
    for path in TESTS:
        parts = sections(path)
        if parts.get("mem", "").strip():
            continue
        program = assemble(parts["asm"])
        if any(i.opcode == o.JMP | o.CALL or i.opcode == o.JMP | o.CALL | o.X or o.mode(i.opcode) in (o.ABS, o.IND)
               and i.cls == o.LD for i in program):
            continue
        try:
            with load(ProgramSpec("conf", "socket_filter", program), engine="kernel") as coll:
                kernel = coll.programs["conf"].test_run(bytes(64)).retval
        except BPFError:
            refused += 1
            continue
        assert kernel == run(program) & 0xFFFF_FFFF, path.name
        compared += 1
    assert compared > 100, (compared, refused)
