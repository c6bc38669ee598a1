"""The interpreter against an independent model of RFC 9669 (hypothesis), plus memory,
calls, helpers, budgets and load-time checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import Instruction, assemble
from pybpf.isa import opcodes as o
from pybpf.vm import VMError, run_program
from pybpf.vm import run as run_any


def run(program, mem=b"", **options):
    """These tests are about the interpreter; the JIT is compared with it in tests/vm/jit."""
    return run_any(program, mem, jit=False, **options)

U64 = st.integers(0, (1 << 64) - 1)
M64, M32 = (1 << 64) - 1, (1 << 32) - 1


def signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def model_alu(code: str, a: int, b: int, bits: int) -> int:
    """RFC 9669 section 4.1, written from the text: operands already truncated to bits."""
    mask = (1 << bits) - 1
    a, b = a & mask, b & mask
    sa, sb = signed(a, bits), signed(b, bits)
    result = {
        "add": a + b, "sub": a - b, "mul": a * b, "or": a | b, "and": a & b, "xor": a ^ b,
        "lsh": a << (b % bits), "rsh": a >> (b % bits), "arsh": sa >> (b % bits), "mov": b,
        "div": a // b if b else 0, "mod": a % b if b else a,
        "sdiv": c_div(sa, sb) if b else 0,
        "smod": (sa - c_div(sa, sb) * sb) if b else a,
    }[code]
    return result & mask


OPS = {"add": (o.ADD, 0), "sub": (o.SUB, 0), "mul": (o.MUL, 0), "or": (o.OR, 0), "and": (o.AND, 0),
       "xor": (o.XOR, 0), "lsh": (o.LSH, 0), "rsh": (o.RSH, 0), "arsh": (o.ARSH, 0), "mov": (o.MOV, 0),
       "div": (o.DIV, 0), "mod": (o.MOD, 0), "sdiv": (o.DIV, 1), "smod": (o.MOD, 1)}


def _with_operands(a: int, b: int, body: list[Instruction]) -> list[Instruction]:
    return [Instruction(o.LDDW, 1, 0, 0, a), Instruction(o.LDDW, 2, 0, 0, b), *body,
            Instruction(o.JMP | o.EXIT)]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(OPS)), st.sampled_from([64, 32]), U64,
       st.one_of(U64, st.sampled_from([0, 1, M64, 1 << 63, M32, 1 << 31])))
def test_alu_register_form(name, bits, a, b):
    code, off = OPS[name]
    kind = o.ALU64 if bits == 64 else o.ALU
    program = _with_operands(a, b, [Instruction(kind | code | o.X, 1, 2, off),
                                    Instruction(o.ALU64 | o.MOV | o.X, 0, 1)])
    assert run(program) == model_alu(name, a, b, bits)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(OPS)), st.sampled_from([64, 32]), U64, st.integers(-(1 << 31), (1 << 31) - 1))
def test_alu_immediate_form(name, bits, a, imm):
    code, off = OPS[name]
    kind = o.ALU64 if bits == 64 else o.ALU
    program = _with_operands(a, 0, [Instruction(kind | code | o.K, 1, 0, off, imm),
                                    Instruction(o.ALU64 | o.MOV | o.X, 0, 1)])
    assert run(program) == model_alu(name, a, imm & M64, bits)


JUMPS = {"jeq": (o.JEQ, lambda a, b: a == b), "jne": (o.JNE, lambda a, b: a != b),
         "jgt": (o.JGT, lambda a, b: a > b), "jge": (o.JGE, lambda a, b: a >= b),
         "jlt": (o.JLT, lambda a, b: a < b), "jle": (o.JLE, lambda a, b: a <= b),
         "jset": (o.JSET, lambda a, b: a & b != 0)}
SIGNED_JUMPS = {"jsgt": (o.JSGT, lambda a, b: a > b), "jsge": (o.JSGE, lambda a, b: a >= b),
                "jslt": (o.JSLT, lambda a, b: a < b), "jsle": (o.JSLE, lambda a, b: a <= b)}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted({**JUMPS, **SIGNED_JUMPS})), st.sampled_from([64, 32]), U64,
       st.one_of(U64, st.sampled_from([0, M64, 1 << 63])))
def test_conditional_jumps(name, bits, a, b):
    code, test = {**JUMPS, **SIGNED_JUMPS}[name]
    kind = o.JMP if bits == 64 else o.JMP32
    mask = (1 << bits) - 1
    x, y = (signed(a, bits), signed(b, bits)) if name in SIGNED_JUMPS else (a & mask, b & mask)
    program = _with_operands(a, b, [Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 0),
                                    Instruction(kind | code | o.X, 1, 2, 1),
                                    Instruction(o.JMP | o.EXIT),
                                    Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 1)])
    assert run(program) == int(test(x, y))


@settings(max_examples=200, deadline=None)
@given(U64, st.sampled_from([16, 32, 64]))
def test_byte_swaps_and_sign_extension(a, bits):
    def swapped(v: int) -> int:
        return int.from_bytes((v & ((1 << bits) - 1)).to_bytes(bits // 8, "little"), "big")
    for insn, expected in [
        (Instruction(o.ALU | o.END | o.TO_BE, 1, 0, 0, bits), swapped(a)),
        (Instruction(o.ALU | o.END | o.TO_LE, 1, 0, 0, bits), a & ((1 << bits) - 1)),
        (Instruction(o.ALU64 | o.END, 1, 0, 0, bits), swapped(a)),
    ]:
        assert run(_with_operands(a, 0, [insn, Instruction(o.ALU64 | o.MOV | o.X, 0, 1)])) == expected
    for width in (8, 16, 32):
        sx = Instruction(o.ALU64 | o.MOV | o.X, 0, 1, width)
        assert run(_with_operands(a, 0, [sx])) == signed(a, width) & M64
    sx32 = Instruction(o.ALU | o.MOV | o.X, 0, 1, 16)
    assert run(_with_operands(a, 0, [sx32])) == signed(a, 16) & M32


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=8, max_size=64), st.data())
def test_memory_round_trip_and_bounds(memory, data):
    size = data.draw(st.sampled_from([1, 2, 4, 8]))
    offset = data.draw(st.integers(0, len(memory) - size))
    code = o.LDX | o.MEM | {1: o.B, 2: o.H, 4: o.W, 8: o.DW}[size]
    program = [Instruction(code, 0, 1, offset), Instruction(o.JMP | o.EXIT)]
    assert run(program, memory) == int.from_bytes(memory[offset:offset + size], "little")
    outside = data.draw(st.integers(len(memory) - size + 1, len(memory) + 64))
    with pytest.raises(VMError, match=r"instruction 0: out-of-bounds read|instruction 0: invalid read"):
        run([Instruction(code, 0, 1, outside), Instruction(o.JMP | o.EXIT)], memory)


def test_stack_store_load_and_atomics():
    program = assemble("""
        r1 = 40
        *(u64 *)(r10 -8) = r1
        r2 = 2
        lock *(u64 *)(r10 -8) += r2
        r3 = 5
        r3 = atomic_fetch_add((u64 *)(r10 -8), r3)   # r3 = 42, memory 47
        r0 = 47
        r4 = 100
        r0 = atomic_cmpxchg((u64 *)(r10 -8), r0, r4)  # memory 100, r0 = 47
        r5 = *(u64 *)(r10 -8)
        r0 += r5
        r0 += r3                                      # 47 + 100 + 42
        exit
    """)
    assert run(program) == 189


def test_local_calls_keep_callee_saved_registers():
    program = assemble("""
        r6 = 7
        r1 = 5
        call pc+3
        r0 += r6
        exit
        exit
        r6 = 1000
        r0 = r1
        r0 *= 2
        *(u64 *)(r10 -8) = r0
        exit
    """)
    assert run(program) == 17


def test_helpers_and_trace_output():
    program = assemble("""
        r1 = 0x0a6425206968 ll      # "hi %d\\n"
        *(u64 *)(r10 -8) = r1
        r1 = r10
        r1 += -8
        r2 = 7
        r3 = -3
        call bpf_trace_printk
        call bpf_get_smp_processor_id
        exit
    """)
    result = run_program(program, cpu=1)
    assert result.output == ("hi -3\n",) and result.retval == 1


@pytest.mark.parametrize("jit", [False, True])
def test_trace_vprintk_takes_its_arguments_from_an_array(jit):
    """bpf_printk with more than three arguments: bpf_trace_vprintk reads u64s from an
    array; a length that is not a multiple of 8 (or more than twelve) is -EINVAL."""
    program = assemble("""
        r1 = 0x0a6425206425 ll      # "%d %d\\n"
        *(u64 *)(r10 -8) = r1
        *(u64 *)(r10 -24) = 4
        *(u64 *)(r10 -16) = -5
        r1 = r10
        r1 += -8
        r2 = 7
        r3 = r10
        r3 += -24
        r4 = 16
        call bpf_trace_vprintk
        r6 = r0
        r1 = r10
        r1 += -8
        r2 = 7
        r3 = r10
        r3 += -24
        r4 = 12
        call bpf_trace_vprintk
        r0 <<= 32
        r0 |= r6
        exit
    """)
    result = run_program(program, jit=jit)
    assert result.output == ("4 -5\n",)
    assert result.retval == ((-22 & 0xFFFF_FFFF) << 32) | 5


@pytest.mark.parametrize("text, why", [
    ("r0 = 1", "fall off the end"),
    ("goto +5\nexit", "lands outside the program"),
    ("goto +1\nr1 = 1 ll\nexit", "middle of an lddw"),
    ("call 9999\nexit", "unknown helper id 9999"),
    ("r1 = map[fd:3]\nexit", "refers to a map"),
    ("call kfunc[id:5]\nexit", "kfunc"),
])
def test_load_time_refusals(text, why):
    with pytest.raises(VMError, match=why):
        run(assemble(text))


@pytest.mark.parametrize("text, why", [
    ("r0 = r3\nexit", r"instruction 0: reads r3"),
    ("r0 += 1\nexit", r"instruction 0: reads r0"),
    ("exit", "r0 is not initialised"),
    ("r0 = 0\nloop:\nr0 += 1\ngoto loop", "ran 1000 instructions"),
    ("r1 = 0\nr0 = *(u8 *)(r1 +0)\nexit", "instruction 1: invalid read of 1 bytes at 0x0"),
    ("call bpf_ktime_get_ns\nr0 = r1\nexit", "reads r1"),
    ("r1 = 1\n*(u32 *)(r10 -6) = r1\nr0 = 0\nexit", r"instruction 1: misaligned write of 4 bytes .* \(offset -6"),
    ("r0 = 1\nr1 = 0\n*(u8 *)(r1 +0) = r0\nexit", "instruction 2: invalid write"),
])
def test_run_time_errors(text, why):
    with pytest.raises(VMError, match=why):
        run(assemble(text), max_instructions=1000)


def test_packet_load_out_of_bounds_returns_zero():
    assert run(assemble("r0 = *(u16 *)skb[2]\nexit"), b"\x00\x00\x12\x34") == 0x1234
    assert run(assemble("r0 = 1\nr0 = *(u32 *)skb[2]\nr0 = 9\nexit"), b"\x00\x00\x12\x34") == 0


def test_call_depth_is_bounded():
    with pytest.raises(VMError, match="nested more than 8 frames"):
        run(assemble("f:\ncall f\nexit"))
