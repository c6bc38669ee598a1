"""The JIT against the interpreter: the conformance suite, random programs (same r0 and
same errors), faults, the batch entry point, the cache and the fallback; and against the
kernel (root) on random ALU programs."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conformance_data import sections
from pybpf.isa import Instruction, assemble
from pybpf.isa import opcodes as o
from pybpf.vm import VMError, run_program
from pybpf.vm.jit import compile_program
from shared_data import shared_files

TESTS = shared_files("conformance", "tests")


def both(program, mem=b"", counts=True, **options):
    """(result or error text) from the interpreter and from the JIT; ``counts`` includes
    the number of instructions run (exact on both when a program exits normally)."""
    outcomes = []
    for jit in (False, True):
        try:
            result = run_program(program, mem, jit=jit, **options)
            outcomes.append((result.retval, result.output) + ((result.instructions,) if counts else ()))
        except VMError as exc:
            outcomes.append(("error", exc.index, type(exc).__name__))
    return outcomes


@pytest.mark.parametrize("path", TESTS, ids=[p.name for p in TESTS])
def test_conformance_on_the_jit(path):
    parts = sections(path)
    memory = bytes.fromhex("".join(parts.get("mem", "").split()))
    result = compile_program(assemble(parts["asm"])).run(memory)
    assert result.retval == int(parts["result"].split()[0], 16)


ALU_CODES = [o.ADD, o.SUB, o.MUL, o.DIV, o.OR, o.AND, o.LSH, o.RSH, o.MOD, o.XOR, o.MOV, o.ARSH]


@st.composite
def alu_instruction(draw):
    kind = draw(st.sampled_from([o.ALU, o.ALU64]))
    code = draw(st.sampled_from(ALU_CODES + [o.NEG, o.END]))
    dst = draw(st.integers(0, 3))
    if code == o.NEG:
        return Instruction(kind | o.NEG, dst)
    if code == o.END:
        bits = draw(st.sampled_from([16, 32, 64]))
        return Instruction(kind | o.END | (draw(st.sampled_from([o.K, o.X])) if kind == o.ALU else o.K), dst, 0, 0, bits)
    off = 1 if code in (o.DIV, o.MOD) and draw(st.booleans()) else 0
    if draw(st.booleans()):
        src = draw(st.integers(0, 3))
        if code == o.MOV and draw(st.booleans()):
            off = draw(st.sampled_from([8, 16, 32] if kind == o.ALU64 else [8, 16]))
        return Instruction(kind | code | o.X, dst, src, off)
    return Instruction(kind | code | o.K, dst, 0, off, draw(st.sampled_from([0, 1, -1, 7, 63, 64, -(1 << 31), draw(st.integers(-(1 << 31), (1 << 31) - 1))])))


@st.composite
def programs(draw):
    seeds = [Instruction(o.LDDW, r, 0, 0, draw(st.integers(0, (1 << 64) - 1))) for r in range(4)]
    seeds.append(Instruction(o.ALU64 | o.MOV | o.X, 5, 1))          # keep the input pointer in r5
    body = draw(st.lists(alu_instruction(), min_size=1, max_size=12))
    memory_ops = draw(st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.integers(-20, 10), st.integers(0, 3)),
                               max_size=3))
    stores = []
    for size, off, reg in memory_ops:  # stack and input stores, some out of bounds or misaligned
        code = {1: o.B, 2: o.H, 4: o.W, 8: o.DW}[size]
        if draw(st.booleans()):
            store = Instruction(o.STX | o.MEM | code, 10, reg, off * size - (size if draw(st.booleans()) else 3))
        else:
            store = Instruction(o.STX | o.MEM | code, 5, reg, off)   # r5 = the input memory
        stores += [store, Instruction(o.LDX | o.MEM | code, 0, 5, abs(off))]  # read the memory back into r0
    return seeds + body + stores + [Instruction(o.ALU64 | o.ADD | o.X, 0, 1), Instruction(o.JMP | o.EXIT)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.binary(max_size=16))
def test_random_programs_agree_with_the_interpreter(program, memory):
    interpreted, compiled = both(program, memory)
    assert interpreted == compiled


@pytest.mark.parametrize("text, mem", [
    ("r0 = r3\nexit", b""),                                   # uninitialised register
    ("r0 = *(u32 *)(r1 +2)\nexit", b"\x01\x02\x03"),          # out of bounds
    ("r1 = 1\n*(u32 *)(r10 -6) = r1\nr0 = 0\nexit", b""),     # misaligned stack
    ("r0 = 0\nl:\nr0 += 1\ngoto l", b""),                     # budget
    ("exit", b""),                                             # r0 unset
    ("f:\ncall f\nexit", b""),                                 # call depth
    ("r0 = *(u32 *)skb[2]\nexit", b"\x00\x00\x01"),            # packet load past the end: r0 = 0
    ("r6 = 9\nr1 = r10\nr1 += -8\nr2 = 77\n*(u64 *)(r1 +0) = r2\ncall pc+2\nr0 += r6\nexit\n"
     "r0 = *(u64 *)(r1 +0)\nexit", b""),                      # callee reads its caller's stack
])
def test_faults_and_edges_match(text, mem):
    interpreted, compiled = both(assemble(text), mem, counts="skb" not in text, max_instructions=500)
    assert interpreted == compiled


def test_helpers_and_output_through_the_jit():
    program = assemble("r1 = 0x0a6425 ll\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\nr2 = 4\nr3 = 42\n"
                       "call bpf_trace_printk\nr1 = 5\ncallx r1\nr0 = 1\nexit")
    interpreted, compiled = both(program)
    assert interpreted[:2] == compiled[:2] == (1, ("42\n",))


def test_batch_entry_point():
    compiled = compile_program(assemble("r0 = *(u8 *)(r1 +0)\nr0 += r2\nexit"))
    assert compiled.run_many([b"\x01", b"\x05\x00", b"\x09\x00\x00"]) == [2, 7, 12]
    with pytest.raises(VMError, match="instruction 0: .*read of 1 bytes at 0x100000000"):
        compiled.run_many([b"\x01", b""])


def test_cache_returns_the_same_compiled_program():
    program = assemble("r0 = 123\nexit")
    assert compile_program(program) is compile_program(list(program))


def test_fallback_to_the_interpreter(caplog):
    # a jump from the main program into a called function: fine for the interpreter
    program = assemble("r0 = 0\ncall pc+2\ngoto +1\nexit\nr0 += 1\nexit")
    assert run_program(program, jit=True).retval == 2
    assert "cannot compile" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="comparing with the kernel needs root")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(alu_instruction(), min_size=1, max_size=10), st.lists(st.integers(0, (1 << 64) - 1), min_size=4,
                                                                      max_size=4))
def test_random_alu_programs_agree_with_the_kernel(body, seeds):
    from pybpf.engine import load
    from pybpf.object import ProgramSpec

    for ins in body:  # what the kernel's verifier refuses outright: constant shifts out of range, / 0
        width = 64 if ins.cls == o.ALU64 else 32
        if o.source(ins.opcode) == o.K and o.op(ins.opcode) in (o.LSH, o.RSH, o.ARSH):
            assume(0 <= ins.imm < width)
        if o.source(ins.opcode) == o.K and o.op(ins.opcode) in (o.DIV, o.MOD):
            assume(ins.imm != 0)
    program = [Instruction(o.LDDW, r, 0, 0, seeds[r]) for r in range(4)] + body + [Instruction(o.JMP | o.EXIT)]
    expected = compile_program(program).run().retval
    with load(ProgramSpec("diff", "socket_filter", program), engine="kernel") as coll:
        # socket filters return 32 bits through BPF_PROG_TEST_RUN
        assert coll.programs["diff"].test_run(bytes(64)).retval == expected & 0xFFFF_FFFF
