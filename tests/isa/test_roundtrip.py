"""Round trip over every valid encoding: disassemble → assemble gives the same bytes,
and decode(encode(x)) == x. Instructions are generated class by class so that most
candidates are valid rather than filtered away."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import Instruction, assemble, decode, disassemble, encode, problem
from pybpf.isa import opcodes as o

regs = st.integers(0, 10)
offs = st.integers(-(1 << 15), (1 << 15) - 1)
imms = st.integers(-(1 << 31), (1 << 31) - 1)


def _has_valid_form(opcode: int) -> bool:
    samples = [(1, 2, 0, 0), (1, 0, 0, 16), (1, 2, 1, 0), (1, 0, 0, 0), (0, 0, 0, 0), (0, 1, 0, 0),
               (0, 2, 0, 0), (1, 2, 8, 0), (1, 2, 0, o.LOAD_ACQ), (1, 2, 0, o.CMPXCHG)]
    return any(problem(Instruction(opcode, *fields)) is None for fields in samples)


#: opcodes that have at least one valid encoding (the rest are tested by the decoder tests)
DEFINED = [opcode for opcode in range(256) if _has_valid_form(opcode)]


@st.composite
def instructions(draw) -> Instruction:
    opcode = draw(st.sampled_from(DEFINED))
    if opcode == o.LDDW:
        src = draw(st.integers(0, 6))
        imm = draw(st.integers(0, (1 << 64) - 1)) if src in (0, 2, 3, 6) else draw(st.integers(0, (1 << 32) - 1))
        return Instruction(opcode, draw(regs), src, 0, imm)
    fields = {
        "dst": draw(st.sampled_from([0, draw(regs)])),
        "src": draw(st.sampled_from([0, 1, 2, draw(regs)])),
        "off": draw(st.sampled_from([0, 1, 8, 16, 32, draw(offs)])),
        "imm": draw(st.sampled_from([0, 16, 32, 64, draw(imms),
                                     o.ATOMIC_ADD, o.ATOMIC_OR | o.FETCH, o.XCHG, o.CMPXCHG, o.LOAD_ACQ, o.STORE_REL])),
    }
    return Instruction(opcode, **fields)


valid = instructions().filter(lambda ins: problem(ins) is None)


# both round trips on each generated program: generating one (a list of composite
# instructions, filtered) costs far more than either check
@settings(max_examples=600, deadline=None)
@given(st.lists(valid, min_size=1, max_size=8))
def test_decode_encode_and_disassemble_assemble_round_trips(program):
    assert decode(encode(program)) == program
    text = disassemble(program)
    assert encode(assemble(text)) == encode(program), text


def test_every_opcode_class_is_reached():
    """Sanity for the generator: each class has valid members it can produce."""
    seen = set()
    for opcode in range(256):
        for ins in (Instruction(opcode, 1, 2, 0, 0), Instruction(opcode, 1, 0, 0, 16), Instruction(opcode, 1, 2, 0, 1)):
            if problem(ins) is None:
                seen.add(opcode & 7)
    assert seen == set(range(8))


def _every_form_tried(line: str):
    """parse_c without its guard texts: the first form whose expression matches."""
    import re

    from pybpf.isa.asm_c import _FORMS

    for _, source, handler in _FORMS:
        match = re.compile(source + r"\s*$").match(line)
        if match is not None:
            return handler(match)
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(valid, min_size=1, max_size=8),
       st.lists(st.sampled_from(list("r0123456789w+-*/=()[]<>&|^%!:, abcdefgiklmnopstuxl_")), max_size=40).map("".join))
def test_the_c_syntax_forms_guard_texts_skip_only_forms_that_cannot_match(program, noise):
    """parse_c tries a form only on a line containing its guard text (and compiles its
    expression on first use): every line parses as it would with every form tried."""
    from pybpf.isa.asm_c import parse_c
    from pybpf.isa.syntax import SyntaxProblem

    for line in [*disassemble(program, numbered=False).splitlines(), noise, f"r1 = {noise}", f"if r1 {noise}"]:
        try:
            expected = _every_form_tried(line.strip())
        except SyntaxProblem as exc:
            expected = exc
        try:
            assert parse_c(line.strip()) == expected, line
        except SyntaxProblem as exc:
            assert isinstance(expected, SyntaxProblem) and str(exc) == str(expected), line
