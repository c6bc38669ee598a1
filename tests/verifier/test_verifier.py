"""pybpf.verifier: the kernel's verdicts and messages on hand-written programs, the
soundness of its scalar arithmetic, and agreement with the kernel on generated programs."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import Instruction, assemble
from pybpf.isa import opcodes as o
from pybpf.object import MapType
from pybpf.verifier import MapInfo, verify
from pybpf.verifier import scalar as sc
from pybpf.verifier import tnum as tn

MAPS = {1: MapInfo(1, MapType.HASH, 4, 48, 8, False, "hash"), 2: MapInfo(2, MapType.RINGBUF, 0, 0, 4096, False, "rb"),
        3: MapInfo(3, MapType.ARRAY, 4, 8, 4, True, "ro")}
LOOKUP = "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:1]\ncall bpf_map_lookup_elem\n"
#: an XDP program that skips a header of variable length (4 * the low nibble of its first
#: byte), checks 20 bytes after it against the end, and reads 2 bytes at ``read``
VARIABLE_HEADER = ("r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 1\nif r4 > r3 goto +9\n"
                   "r4 = *(u8 *)(r2 +0)\nr4 &= 15\nr4 <<= 2\nr2 += r4\nr5 = r2\nr5 += 20\n"
                   "if r5 > r3 goto +2\nr0 = *(u16 *)(r2 +{read})\nr0 = 2\nr0 = 2\nexit")


def judge(text: str, kind: str = "socket_filter", **options) -> tuple[bool, str]:
    verdict = verify(assemble(text), kind, MAPS, **options)
    return verdict.accepted, verdict.message


@pytest.mark.parametrize("text, kind, message", [
    ("exit", "socket_filter", "R0 !read_ok"),
    ("r0 = r5\nexit", "socket_filter", "R5 !read_ok"),
    ("r10 = 0\nr0 = 0\nexit", "socket_filter", "frame pointer is read only"),
    ("*(u64 *)(r10 -520) = 1\nr0 = 0\nexit", "socket_filter", "invalid write to stack R10 off=-520 size=8"),
    ("*(u32 *)(r10 -6) = 1\nr0 = 0\nexit", "socket_filter", "misaligned stack access off 0+0+-6 size 4"),
    (LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "socket_filter", "R0 invalid mem access 'map_value_or_null'"),
    (LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +44)\nr0 = 0\nexit", "socket_filter",
     "R0 min value is outside of the allowed memory range"),
    (LOOKUP + "if r0 == 0 goto +4\nr1 = *(u32 *)(r0 +0)\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit",
     "socket_filter", "R0 unbounded memory access, make sure to bounds check any such access"),
    ("r1 = 5\nr2 = 0\ncall bpf_map_lookup_elem\nr0 = 0\nexit", "socket_filter", "R1 type=scalar expected=map_ptr"),
    ("r0 = *(u32 *)(r1 +76)\nr0 = 0\nexit", "socket_filter", "invalid bpf_context access off=76 size=4"),
    ("r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr0 = *(u8 *)(r2 +0)\nr0 = 0\nexit", "xdp",
     "R2 offset is outside of the packet"),
    ("r1 = map[fd:2]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nr0 = 0\nexit", "kprobe",
     "BPF_EXIT instruction in main prog would lead to reference leak"),
    (VARIABLE_HEADER.format(read=19), "xdp", "R2 offset is outside of the packet"),
    ("call bpf_get_stackid\nr0 = 0\nexit", "xdp", "program of this type cannot use helper bpf_get_stackid#27"),
    ("r0 = 0\nif r0 == 0 goto -1\nexit", "socket_filter", "infinite loop detected at insn 1"),
    ("r0 = 0\nexit\nr0 = 1\nexit", "socket_filter", "unreachable insn 2"),
    ("r0 = 2\nexit", "cgroup_skb", "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]"),
    (("*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:3]\ncall bpf_map_lookup_elem\n"
     "if r0 == 0 goto +1\n*(u32 *)(r0 +0) = 1\nr0 = 0\nexit"), "socket_filter",
     "write into map forbidden, value_size=8 off=0 size=4"),
    ("r1 = 1\nr2 = r1\nr2 <<= 70\nr0 = 0\nexit", "socket_filter", "invalid shift 70"),
    ("call pc+2\nr0 = 0\nexit\n*(u64 *)(r10 -512) = 0\ncall pc+1\nexit\n*(u64 *)(r10 -8) = 0\nr0 = 0\nexit",
     "socket_filter",
     "combined stack size of 3 calls is 528. Too large"),
])
def test_refusals_carry_the_kernels_message(text, kind, message):
    accepted, said = judge(text, kind)
    assert not accepted
    assert said == message


@pytest.mark.parametrize("text, kind, code, lines", [
    (LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +44)\nr0 = 0\nexit", "socket_filter", errno.EACCES,
     ["invalid access to map value, value_size=48 off=44 size=8", "R0 min value is outside of the allowed memory range"]),
    ("r1 = map[fd:2]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nr0 = 0\nexit", "kprobe", errno.EINVAL,
     ["Unreleased reference id=2 alloc_insn=4", "BPF_EXIT instruction in main prog would lead to reference leak"]),
    ("r0 = 1\nr0 /= 0\nexit", "socket_filter", errno.EINVAL, ["div by zero"]),
    ("r0 = 0\nif r0 == 0 goto -1\nexit", "socket_filter", errno.EINVAL, ["infinite loop detected at insn 1"]),
    ("r1 = r10\nr1 += -8\nr2 = 16\ncall bpf_get_current_comm\nr0 = 0\nexit", "kprobe", errno.EINVAL,
     ["invalid write to stack R1 off=-8 size=16"]),
])
def test_refusals_carry_the_kernels_errno_and_log_lines(text, kind, code, lines):
    """The errno of BPF_PROG_LOAD and the lines the kernel prints before its statistics."""
    verdict = verify(assemble(text), kind, MAPS)
    assert not verdict.accepted and verdict.errno == code
    assert verdict.log.splitlines()[-len(lines) - 2:-2] == lines


@pytest.mark.parametrize("text, kind", [
    ("r0 = 0\nexit", "socket_filter"),
    (LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +40)\nr0 = 0\nexit", "socket_filter"),
    (LOOKUP + "r1 = r0\nif r0 == 0 goto +1\nr0 = *(u64 *)(r1 +0)\nr0 = 0\nexit", "socket_filter"),
    (LOOKUP + "if r0 == 0 goto +5\nr1 = *(u32 *)(r0 +0)\nif r1 > 40 goto +3\nr0 += r1\nr0 = *(u8 *)(r0 +0)\n"
     "r0 = 0\nr0 = 0\nexit", "socket_filter"),
    (("r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto +1\n"
     "r0 = *(u16 *)(r2 +12)\nr0 = 2\nexit"), "xdp"),
    (("r1 = map[fd:2]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +4\n*(u64 *)(r0 +0) = 1\n"
     "r1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\nr0 = 0\nexit"), "kprobe"),
    ("r1 = 0\nr0 = 0\nr0 += r1\nr1 += 1\nif r1 < 1000 goto -3\nexit", "socket_filter"),
    ("r0 = *(u64 *)(r10 -8)\nr0 = 0\nexit", "socket_filter"),      # root may read unwritten stack
    # a range checked on `ip + ihl * 4` covers every copy of that pointer: only the fixed
    # offset of an access is held to it (the kernel's check_packet_access)
    (VARIABLE_HEADER.format(read=18), "xdp"),
])
def test_safe_programs_are_accepted(text, kind):
    assert judge(text, kind) == (True, "")


def test_the_log_has_the_kernels_statistics_line():
    verdict = verify(assemble("r1 = 0\nif r1 > 3 goto +1\nr0 = 0\nr0 = 1\nexit"), "socket_filter", log_level=2)
    assert verdict.log.splitlines()[-1].startswith("processed ")
    assert "1: (25) if r1 > 0x3 goto pc+1" in verdict.log or "if r1 > 0x3" in verdict.log


def test_instruction_limit(monkeypatch):
    # a loop whose counter never repeats a state runs into the limit (lowered here for speed)
    from pybpf.verifier import checker

    monkeypatch.setattr(checker, "INSN_LIMIT", 5000)
    verdict = verify(assemble("r1 = 0\nr1 += 1\nif r1 != 0 goto -2\nr0 = 0\nexit"), "socket_filter")
    assert not verdict.accepted and verdict.message == "BPF program is too large. Processed 5001 insn"
    assert verdict.errno == errno.E2BIG


_VALUES = st.integers(0, (1 << 64) - 1)
_OPS = st.sampled_from([o.ADD, o.SUB, o.MUL, o.AND, o.OR, o.XOR, o.LSH, o.RSH, o.ARSH, o.DIV, o.MOD])


def _around(value: int, spread: int) -> sc.Scalar:
    return sc.unsigned_range(max(0, value - spread), min((1 << 64) - 1, value + spread))


@settings(max_examples=400, deadline=None)
@given(_VALUES, _VALUES, st.integers(0, 9), st.integers(0, 9), _OPS, st.booleans(), st.data())
def test_alu_results_contain_every_concrete_result(a, b, sa, sb, op, is64, data):
    if op in (o.LSH, o.RSH, o.ARSH):
        b = b % (64 if is64 else 32)
        sb = 0
    left, right = _around(a, sa), _around(b, sb)
    x = data.draw(st.integers(left.umin, left.umax))
    y = data.draw(st.integers(right.umin, right.umax))
    result = sc.alu(op, left, right, is64)
    assert _describes(result, sc.concrete(op, x, y, is64))


def _describes(value: sc.Scalar, x: int) -> bool:
    """``x`` is inside every view of ``value``: 64- and 32-bit, signed and unsigned, tnum."""
    low = x & sc.U32
    return (value.umin <= x <= value.umax and value.smin <= sc.signed(x) <= value.smax
            and value.u32min <= low <= value.u32max and value.s32min <= sc.signed(low, 32) <= value.s32max
            and tn.contains(value.tnum, tn.const(x)))


def _low_around(value: int, spread: int) -> sc.Scalar:
    """Any upper half; the low half within ``spread`` of ``value``'s."""
    low = value & sc.U32
    made = sc.make(0, (1 << 64) - 1, sc.S64_MIN, sc.S64_MAX, tn.UNKNOWN, max(0, low - spread),
                   min(sc.U32, low + spread))
    assert made is not None
    return made


_WITH_UPPER = st.tuples(st.integers(0, sc.U32), st.integers(0, 1000))


@settings(max_examples=400, deadline=None)
@given(_VALUES, _VALUES, st.integers(0, 1000), st.integers(0, 1000), _WITH_UPPER, _WITH_UPPER,
       st.sampled_from([o.ADD, o.SUB, o.AND, o.OR, o.XOR, o.MUL]), st.booleans(), st.data())
def test_32_bit_bounds_contain_every_concrete_result(a, b, sa, sb, ua, ub, op, is64, data):
    """Values known only by their low halves (``if w1 < 40`` on an unknown 64-bit value):
    ALU results and the 32-bit comparisons that narrow them keep every possible value."""
    left, right = _low_around(a, sa), _low_around(b, sb)
    x = (ua[0] << 32) | data.draw(st.integers(left.u32min, left.u32max))
    y = (ub[0] << 32) | data.draw(st.integers(right.u32min, right.u32max))
    assert _describes(left, x) and _describes(right, y)
    assert _describes(sc.alu(op, left, right, is64), sc.concrete(op, x, y, is64))
    xl, yl = x & sc.U32, y & sc.U32
    cmp = data.draw(st.sampled_from(sorted(sc.INVERSE)))
    holds = {o.JEQ: xl == yl, o.JNE: xl != yl, o.JGT: xl > yl, o.JGE: xl >= yl, o.JLT: xl < yl, o.JLE: xl <= yl,
             o.JSGT: sc.signed(xl, 32) > sc.signed(yl, 32), o.JSGE: sc.signed(xl, 32) >= sc.signed(yl, 32),
             o.JSLT: sc.signed(xl, 32) < sc.signed(yl, 32), o.JSLE: sc.signed(xl, 32) <= sc.signed(yl, 32)}[cmp]
    taken = sc.branch_taken32(cmp, left, right)
    assert taken is None or taken == holds
    if holds:
        narrowed = sc.refine32(cmp, left, right)
        assert narrowed is not None and _describes(narrowed[0], x) and _describes(narrowed[1], y)


@settings(max_examples=300, deadline=None)
@given(_VALUES, _VALUES, st.integers(0, 1000), st.integers(0, 1000),
       st.sampled_from(sorted(sc.INVERSE)), st.data())
def test_branch_refinement_keeps_every_value_that_takes_the_branch(a, b, sa, sb, op, data):
    left, right = _around(a, sa), _around(b, sb)
    x = data.draw(st.integers(left.umin, left.umax))
    y = data.draw(st.integers(right.umin, right.umax))
    holds = {o.JEQ: x == y, o.JNE: x != y, o.JGT: x > y, o.JGE: x >= y, o.JLT: x < y, o.JLE: x <= y,
             o.JSGT: sc.signed(x) > sc.signed(y), o.JSGE: sc.signed(x) >= sc.signed(y),
             o.JSLT: sc.signed(x) < sc.signed(y), o.JSLE: sc.signed(x) <= sc.signed(y)}[op]
    taken = sc.branch_taken(op, left, right)
    assert taken is None or taken == holds
    if holds:
        narrowed = sc.refine(op, left, right)
        assert narrowed is not None and _describes(narrowed[0], x) and _describes(narrowed[1], y)


def test_explanation_names_where_a_null_pointer_came_from():
    verdict = verify(assemble(LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit"), "socket_filter", MAPS)
    assert "bpf_map_lookup_elem at instruction 5" in verdict.why and verdict.related == (5,)


def test_callbacks_need_func_info_and_return_zero_or_one():
    text = "r1 = 4\nr2 = func[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ncb:\nr0 = {}\nexit"
    assert judge(text.format(1)) == (False, "missing btf func_info")
    assert judge(text.format(1), func_info=True) == (True, "")
    accepted, message = judge(text.format(2), func_info=True)
    assert not accepted and message.startswith("At callback return the register R0")


def test_generated_programs_agree_with_the_kernel():
    """A small differential run (tools/verifier_agreement.py runs thousands)."""
    from generator import Generator
    from oracle import Kernel, vm_verdict

    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    kernel = Kernel()
    unsafe, errnos, disagree = [], [], 0
    try:
        for seed in range(150):
            program = Generator(900_000 + seed).program()
            theirs, ours = kernel.verdict(program), vm_verdict(program)
            if ours.accepted and not theirs.accepted:
                unsafe.append((program.text, theirs.message))
            disagree += theirs.accepted != ours.accepted
            if not theirs.accepted and not ours.accepted and theirs.errno != ours.errno:
                errnos.append((program.text, theirs, ours))
    finally:
        kernel.close()
    assert not unsafe, unsafe[:2]
    assert disagree <= 3
    assert len(errnos) <= 3, errnos[:2]


def test_lddw_of_an_unknown_map_is_refused():
    ins = [Instruction(o.LDDW, 1, o.PSEUDO_MAP_FD, 0, 99), *assemble("r0 = 0\nexit")]
    verdict = verify(ins, "socket_filter", MAPS)
    assert verdict.message == "fd 99 is not pointing to valid bpf_map"


def test_helper_prototypes_match_the_kernel():
    """Every modelled helper called with zero arguments from every generated program
    type: which types may call it, and whether plain values suffice, as the kernel says."""
    from generator import TYPES, Generated
    from oracle import Kernel, vm_verdict

    from pybpf.kernel.engine import available
    from pybpf.verifier.protos import PROTOS

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    kernel = Kernel()
    differ = []
    try:
        for number in sorted(PROTOS):
            for kind in TYPES:
                text = f"r1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall {number}\nr0 = 0\nexit"
                program = Generated(kind, text, assemble(text))
                (k_ok, k_msg, _), (v_ok, v_msg, _) = kernel.verdict(program), vm_verdict(program)
                if k_ok != v_ok or ("cannot use helper" in k_msg) != ("cannot use helper" in v_msg):
                    differ.append((number, str(kind), k_msg, v_msg))
    finally:
        kernel.close()
    # pybpf models upstream's per-type helper lists; a kernel build may refuse one of them
    # (6.18.44-fc refuses bpf_xdp_adjust_meta in XDP programs, which upstream's
    # xdp_func_proto offers: bpftool prog load says the same). Only such a refusal is let
    # pass, and only for the pairs named here; any other difference fails.
    build_dependent = {(54, "xdp")}
    differ = [d for d in differ if not ((d[0], d[1]) in build_dependent and "cannot use helper" in d[2])]
    assert not differ


def test_frozen_read_only_map_values_are_constants():
    """Loads from a frozen ``.rodata`` map are the bytes it holds (the kernel reads them
    at load), so a branch on a constant configuration value is decided."""
    from pybpf.object import MapSpec
    from pybpf.verifier import map_info

    text = ("r2 = map[fd:1][0]+0\nr3 = *(u32 *)(r2 +0)\nif r3 == 0 goto +2\nr0 = *(u64 *)(r3 +0)\nexit\n"
            "r0 = 0\nexit")
    for value, accepted in ((0, True), (1, False)):
        rodata = MapSpec(".rodata", "array", 4, 4, 1, flags=1 << 7, contents=value.to_bytes(4, "little"),
                         freeze=True)
        verdict = verify(assemble(text), "socket_filter", {1: map_info(1, rodata)})
        assert verdict.accepted is accepted
