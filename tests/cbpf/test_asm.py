"""bpf_asm syntax: every mnemonic and addressing mode, the kernel documentation's example
with bpf_asm's exact outputs, errors with line and column, and the disassembler as the
assembler's inverse (hypothesis over generated programs, and every libpcap test listing)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.cbpf import CbpfError, parse_dump, validate
from pybpf.cbpf import opcodes as c
from pybpf.cbpf.asm import EXTENSIONS, CbpfAsmError, assemble, disassemble, format_bytecode, format_c, parse_bytecode
from pybpf.cbpf.instruction import Instruction as I
from pybpf.cbpf.translate import KERNEL_OPCODES
from shared_data import shared_path

AD = c.SKF_AD_OFF & 0xFFFF_FFFF

# Documentation/networking/filter.rst: "IPv4 TCP packets", as bpf_asm prints it
DOC_EXAMPLE = """\
  ldh [12]
  jne #0x800, drop
  ldb [23]
  jneq #6, drop
  ret #-1
  drop: ret #0
"""


def test_kernel_documentation_example():
    program = assemble(DOC_EXAMPLE)
    assert format_bytecode(program) == "6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 6,6 0 0 4294967295,6 0 0 0,\n"
    assert format_c(program).splitlines() == [
        "{ 0x28,  0,  0, 0x0000000c },", "{ 0x15,  0,  3, 0x00000800 },", "{ 0x30,  0,  0, 0x00000017 },",
        "{ 0x15,  0,  1, 0x00000006 },", "{ 0x06,  0,  0, 0xffffffff },", "{ 0x06,  0,  0, 0000000000 },"]
    assert parse_bytecode(format_bytecode(program)) == program
    assert parse_bytecode("2,6 0 0 1,6 0 0 0") == [I(6, 0, 0, 1), I(6, 0, 0, 0)]


@pytest.mark.parametrize("text, expected", [
    ("ld #42", I(c.LD | c.IMM, 0, 0, 42)),
    ("ldi #0x10", I(c.LD | c.IMM, 0, 0, 16)),
    ("ldi 010", I(c.LD | c.IMM, 0, 0, 8)),                       # bpf_asm reads 0-prefixed octal
    ("ld #0b101", I(c.LD | c.IMM, 0, 0, 5)),
    ("ld #len", I(c.LD | c.W | c.LEN)),
    ("ld len", I(c.LD | c.W | c.LEN)),
    ("ld M[3]", I(c.LD | c.MEM, 0, 0, 3)),
    ("ld [12]", I(c.LD | c.W | c.ABS, 0, 0, 12)),
    ("ld [x + 4]", I(c.LD | c.W | c.IND, 0, 0, 4)),
    ("ldh [%x+4]", I(c.LD | c.H | c.IND, 0, 0, 4)),
    ("ldh [12]", I(c.LD | c.H | c.ABS, 0, 0, 12)),
    ("ldb [x + 14]", I(c.LD | c.B | c.IND, 0, 0, 14)),
    ("ld #proto", I(c.LD | c.W | c.ABS, 0, 0, AD)),
    ("ldh #vlan_tci", I(c.LD | c.H | c.ABS, 0, 0, AD + 44)),
    ("ldb vlan_pr", I(c.LD | c.B | c.ABS, 0, 0, AD + 48)),
    ("ld #poff", I(c.LD | c.W | c.ABS, 0, 0, AD + 52)),
    ("ld #rand", I(c.LD | c.W | c.ABS, 0, 0, AD + 56)),
    ("ldx #7", I(c.LDX | c.IMM, 0, 0, 7)),
    ("ldxi 7", I(c.LDX | c.IMM, 0, 0, 7)),
    ("ldx #len", I(c.LDX | c.W | c.LEN)),
    ("ldx M[15]", I(c.LDX | c.MEM, 0, 0, 15)),
    ("ldx 4*([14]&0xf)", I(c.LDX | c.B | c.MSH, 0, 0, 14)),
    ("ldxb 4 * ( [ 14 ] & 0xf )", I(c.LDX | c.B | c.MSH, 0, 0, 14)),
    ("st M[0]", I(c.ST)),
    ("stx M[1]", I(c.STX, 0, 0, 1)),
    ("add #1", I(c.ALU | c.ADD | c.K, 0, 0, 1)),
    ("sub x", I(c.ALU | c.SUB | c.X)),
    ("mul %x", I(c.ALU | c.MUL | c.X)),
    ("div #3", I(c.ALU | c.DIV | c.K, 0, 0, 3)),
    ("mod #3", I(c.ALU | c.MOD | c.K, 0, 0, 3)),
    ("neg", I(c.ALU | c.NEG)),
    ("and #0xff", I(c.ALU | c.AND | c.K, 0, 0, 0xFF)),
    ("or x", I(c.ALU | c.OR | c.X)),
    ("xor #-1", I(c.ALU | c.XOR | c.K, 0, 0, 0xFFFF_FFFF)),
    ("lsh #2", I(c.ALU | c.LSH | c.K, 0, 0, 2)),
    ("rsh x", I(c.ALU | c.RSH | c.X)),
    ("tax", I(c.MISC | c.TAX)),
    ("txa", I(c.MISC | c.TXA)),
    ("ret #0xffff", I(c.RET | c.K, 0, 0, 0xFFFF)),
    ("ret a", I(c.RET | c.A)),
    ("ret %a", I(c.RET | c.A)),
    ("ret x", I(c.RET | c.X)),
    ("LDH [12]", I(c.LD | c.H | c.ABS, 0, 0, 12)),
])
def test_every_form(text, expected):
    assert assemble(text) == [expected]


def test_every_extension_name():
    for name, offset in EXTENSIONS.items():
        assert assemble(f"ld #{name}\nldh {name}") == [I(c.LD | c.W | c.ABS, 0, 0, AD + offset),
                                                        I(c.LD | c.H | c.ABS, 0, 0, AD + offset)]


JUMPS = """\
    jeq #1, t, f        ; two targets
    jeq #1, t           ; one: false falls through
    jne #1, f           ; negated: the target is jf
    jneq x, t, f        ; negated, two targets: t when A != x, so JEQ's jt is f
    jlt #5, f
    jle %x, f
    jgt #5, t, f
    jge x, t
    jset #4, t, f
    ja f
    jmp f
t:  ret #1
f:  ret #0
"""


def test_jumps_and_labels():
    program = assemble(JUMPS)
    assert [(i.code, i.jt, i.jf, i.k) for i in program[:11]] == [
        (c.JMP | c.JEQ | c.K, 10, 11, 1), (c.JMP | c.JEQ | c.K, 9, 0, 1), (c.JMP | c.JEQ | c.K, 0, 9, 1),
        (c.JMP | c.JEQ | c.X, 8, 7, 0), (c.JMP | c.JGE | c.K, 0, 7, 5), (c.JMP | c.JGT | c.X, 0, 6, 0),
        (c.JMP | c.JGT | c.K, 4, 5, 5), (c.JMP | c.JGE | c.X, 3, 0, 0), (c.JMP | c.JSET | c.K, 2, 3, 4),
        (c.JMP | c.JA, 0, 0, 2), (c.JMP | c.JA, 0, 0, 1)]


def test_labels_on_their_own_lines_and_comments():
    assert assemble("; header\n\nstart:\n\n  ja end ; skip\nmid: ret #1\nend:\n ret #0\n") == [
        I(c.JMP | c.JA, 0, 0, 1), I(c.RET | c.K, 0, 0, 1), I(c.RET | c.K)]


def test_far_targets():
    body = "\n".join(["ld #0"] * 255)
    assert assemble(f"jeq #1, far\n{body}\nfar: ret #0")[0].jt == 255
    program = assemble(f"ja far\n{body}\n{body}\nfar: ret #0")
    assert program[0].k == 510


@pytest.mark.parametrize("text, line, column, why", [
    ("ret #0\nja nowhere", 2, 4, "unknown label 'nowhere'"),
    ("l1: ret #0\njeq #1, l1", 2, 9, "backward jump to 'l1' \\(line 1\\)"),
    ("jeq #1, far\n" + "ld #0\n" * 256 + "far: ret #0", 1, 9, "256 instructions ahead; a conditional jump reaches "
                                                            "at most 255"),
    ("jeq #1, end\nend:", 1, 9, "'end' \\(line 2\\) is after the last instruction"),
    ("ldh M[1]", 1, 5, "bad operand for ldh: M\\[k\\] \\(ldh takes \\[k\\] or \\[x \\+ k\\]"),
    ("st #1", 1, 4, "bad operand for st: #k \\(st takes M\\[k\\]\\)"),
    ("neg x", 1, 5, "bad operand for neg: x \\(neg takes no operand\\)"),
    ("ret", 1, 4, "bad operand for ret: nothing"),
    ("jeq M[1], l", 1, 5, "jeq: it compares A with #k or x"),
    ("jeq #1", 1, 7, "expected ',' at the end of the line"),
    ("frob #1", 1, 1, "unknown instruction 'frob'"),
    ("  ld [x + 1", 1, 12, "expected ']' at the end of the line"),
    ("ld #foo", 1, 5, "unknown extension '#foo'"),
    ("ld #0x1ffffffff", 1, 5, "does not fit in 32 bits"),
    ("ld #09", 1, 5, "bad octal number"),
    ("ldx 2*([14]&0xf)", 1, 5, "only 4\\*\\(\\[k\\]&0xf\\) exists"),
    ("ld #1 #2", 1, 7, "unexpected '#' after the instruction"),
    ("ld @", 1, 4, "unexpected character '@'"),
    ("a: ret #0\na: ret #1", 2, 1, "label 'a' already defined on line 1"),
    ("ret #0\n" * 4097, 4097, 1, "more than 4096 instructions"),
])
def test_errors_say_where_and_why(text, line, column, why):
    with pytest.raises(CbpfAsmError, match=why) as caught:
        assemble(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value).startswith(f"line {line}, column {column}: ")
    assert isinstance(caught.value, CbpfError)


def test_bad_bytecode():
    with pytest.raises(CbpfError, match="says 3 instructions but has 1"):
        parse_bytecode("3,6 0 0 0,")
    with pytest.raises(CbpfError, match="not bpf_asm bytecode"):
        parse_bytecode("1,6 0 0")


def test_disassembler_output():
    assert disassemble(assemble(DOC_EXAMPLE)) == (
        "\tldh [12]\n\tjne #0x800, l5\n\tldb [23]\n\tjne #6, l5\n\tret #0xffffffff\nl5:\tret #0\n")
    with pytest.raises(CbpfError, match="opcode 0xff has no bpf_asm form"):
        disassemble([I(0xFF)])
    with pytest.raises(CbpfError, match="outside the program"):
        disassemble([I(c.JMP | c.JA, 0, 0, 3), I(c.RET)])


# ---------------------------------------------------------------- round trips

_K = st.integers(0, 0xFFFF_FFFF)
_UNUSED_K = {c.LD | c.W | c.LEN, c.LDX | c.W | c.LEN, c.ALU | c.NEG, c.RET | c.A, c.RET | c.X,
             c.MISC | c.TAX, c.MISC | c.TXA}
_STRAIGHT = sorted(code for code in KERNEL_OPCODES | {c.RET | c.X} if c.cls(code) != c.JMP)
_CONDITIONAL = sorted(code for code in KERNEL_OPCODES if c.cls(code) == c.JMP and code != c.JMP | c.JA)


@st.composite
def programs(draw):
    """Programs of kernel opcodes (and ret x) with forward, in-range jumps and unused
    fields 0: what bpf_asm text can say, and so what must survive a round trip."""
    count = draw(st.integers(1, 40))
    program = []
    for pc in range(count):
        ahead = count - pc - 2                  # the furthest jump offset that stays inside
        kind = draw(st.sampled_from(["straight", "straight", "jump", "ja", "ancillary"])) if ahead >= 0 \
            else "last"
        if kind == "last":
            program.append(I(draw(st.sampled_from([c.RET | c.K, c.RET | c.A, c.RET | c.X])), 0, 0, draw(_K)))
        elif kind == "straight":
            code = draw(st.sampled_from(_STRAIGHT))
            unused = code in _UNUSED_K or (c.cls(code) == c.ALU and c.src(code) == c.X)
            program.append(I(code, 0, 0, 0 if unused else draw(_K)))
        elif kind == "ancillary":
            size = draw(st.sampled_from([c.W, c.H, c.B]))
            program.append(I(c.LD | size | c.ABS, 0, 0, AD + draw(st.integers(0, c.SKF_AD_MAX))))
        elif kind == "ja":
            program.append(I(c.JMP | c.JA, 0, 0, draw(st.integers(0, ahead))))
        else:
            code = draw(st.sampled_from(_CONDITIONAL))
            jt, jf = draw(st.integers(0, min(ahead, 255))), draw(st.integers(0, min(ahead, 255)))
            program.append(I(code, jt, jf, 0 if c.src(code) == c.X else draw(_K)))
    program[-1] = I(program[-1].code, 0, 0, program[-1].k if program[-1].code == c.RET | c.K else 0)
    return program


@settings(max_examples=300, deadline=None)
@given(programs())
def test_assemble_inverts_disassemble(program):
    assert assemble(disassemble(program)) == program


@settings(max_examples=100, deadline=None)
@given(programs())
def test_bytecode_forms_round_trip(program):
    assert parse_bytecode(format_bytecode(program)) == program
    assert len(format_c(program).splitlines()) == len(program)


def test_every_libpcap_program_round_trips():
    checked = 0
    for line in shared_path("libpcap-tests", "accept.jsonl").read_text().splitlines():
        expected = json.loads(line)["expected"]
        if not expected:
            continue
        program = parse_dump(expected)
        try:
            validate(program)
        except CbpfError:
            continue                      # e.g. protochain's backward jumps: no bpf_asm text for those
        assert assemble(disassemble(program)) == program
        checked += 1
    assert checked > 4000


# ---------------------------------------------------------------- the kernel's checks (validate)

@pytest.mark.parametrize("program, why", [
    ("ld #1\nret x", "instruction 1: unknown return opcode 0x0e \\(the kernel returns only #k or a\\)"),
    ([I(0xFF), I(c.RET | c.K)], "instruction 0: unknown misc opcode 0xff"),
    ([I(c.LD | c.IMM | c.H), I(c.RET | c.K)], "instruction 0: unknown load opcode 0x08"),
    ("ld #1\nlsh #32\nret a", "instruction 1: shift by the constant 32 \\(at most 31\\)"),
    ("ld #1\nmod #0\nret a", "instruction 1: division by the constant 0"),
    ("ld [0xfffff040]\nret a", "instruction 0: unknown ancillary load SKF_AD_OFF \\+ 64"),
    ("ldh [0xfffff002]\nret a", "instruction 0: unknown ancillary load SKF_AD_OFF \\+ 2"),
    ("ldx M[16]\nret a", "instruction 0: scratch word M\\[16\\] does not exist"),
    ([I(c.JMP | c.JEQ | c.K, 0, 1), I(c.RET | c.K)], "instruction 0: a conditional jump goes past the end"),
    ([I(c.RET | c.K)] * 4097, "1 to 4096 instructions, not 4097"),
    ("ret #0\nld #1", "instruction 1: the program must end with a return"),
    ("jeq #1, l\nst M[2]\nl: ld M[2]\nret a", "instruction 2: reads M\\[2\\] before any path writes it"),
])
def test_validate_refuses_what_the_kernel_refuses(program, why):
    with pytest.raises(CbpfError, match=why):
        validate(assemble(program) if isinstance(program, str) else program)


def test_validate_accepts_kernel_programs():
    validate(assemble(DOC_EXAMPLE))
    validate(assemble("ldh #vlan_tci\nld #rand\nldb [-0x100000]\nlsh #31\nst M[0]\nldx M[0]\nret a"))
    validate(assemble("ret #0\n" * 4096))
