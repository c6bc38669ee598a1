"""The assembler: both syntaxes, every form, prefixes from verifier logs and objdump,
labels, the conformance suite's programs and its negative cases, and errors that name
line and column."""

from __future__ import annotations

import pytest

from conformance_data import raw_bytes, sections
from pybpf.isa import AsmError, Instruction, assemble, disassemble, encode
from pybpf.isa import opcodes as o
from shared_data import shared_path

C_FORMS = {
    "r0 = 11": Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 11),
    "w1 += w2": Instruction(o.ALU | o.ADD | o.X, 1, 2),
    "r1 s/= r2": Instruction(o.ALU64 | o.DIV | o.X, 1, 2, 1),
    "w1 s%= 7": Instruction(o.ALU | o.MOD | o.K, 1, 0, 1, 7),
    "r3 s>>= 2": Instruction(o.ALU64 | o.ARSH | o.K, 3, 0, 0, 2),
    "r1 = -r1": Instruction(o.ALU64 | o.NEG, 1),
    "w2 = (s16)w3": Instruction(o.ALU | o.MOV | o.X, 2, 3, 16),
    "r2 = (s32)r3": Instruction(o.ALU64 | o.MOV | o.X, 2, 3, 32),
    "r1 = be16 r1": Instruction(o.ALU | o.END | o.TO_BE, 1, 0, 0, 16),
    "r1 = le64 r1": Instruction(o.ALU | o.END | o.TO_LE, 1, 0, 0, 64),
    "r1 = bswap32 r1": Instruction(o.ALU64 | o.END, 1, 0, 0, 32),
    "if r1 s> 0x5 goto +3": Instruction(o.JMP | o.JSGT | o.K, 1, 0, 3, 5),
    "if w1 & w2 goto -1": Instruction(o.JMP32 | o.JSET | o.X, 1, 2, -1),
    "if r1 == -0x1 goto pc+2": Instruction(o.JMP | o.JEQ | o.K, 1, 0, 2, -1),
    "goto +0x3 <LBB0_2>": Instruction(o.JMP | o.JA, 0, 0, 3),
    "gotol -4": Instruction(o.JMP32 | o.JA, 0, 0, 0, -4),
    "*(u32 *)(r10 -4) = r1": Instruction(o.STX | o.MEM | o.W, 10, 1, -4),
    "*(u16 *)(r10 - 0x8) = 7": Instruction(o.ST | o.MEM | o.H, 10, 0, -8, 7),
    "r0 = *(u8 *)(r1 +0)": Instruction(o.LDX | o.MEM | o.B, 0, 1, 0),
    "r0 = *(s16 *)(r1 + 0x4)": Instruction(o.LDX | o.MEMSX | o.H, 0, 1, 4),
    "lock *(u64 *)(r10 -8) += r1": Instruction(o.STX | o.ATOMIC | o.DW, 10, 1, -8, o.ATOMIC_ADD),
    "lock *(u32 *)(r10 -8) ^= w1": Instruction(o.STX | o.ATOMIC | o.W, 10, 1, -8, o.ATOMIC_XOR),
    "r0 = atomic_fetch_add((u64 *)(r10 -8), r0)": Instruction(o.STX | o.ATOMIC | o.DW, 10, 0, -8, o.ATOMIC_ADD | o.FETCH),
    "r0 = atomic64_fetch_or((u64 *)(r10 -8), r0)": Instruction(o.STX | o.ATOMIC | o.DW, 10, 0, -8, o.ATOMIC_OR | o.FETCH),
    "r1 = atomic_xchg((u64 *)(r10 -8), r1)": Instruction(o.STX | o.ATOMIC | o.DW, 10, 1, -8, o.XCHG),
    "r0 = atomic_cmpxchg((u64 *)(r10 -8), r0, r1)": Instruction(o.STX | o.ATOMIC | o.DW, 10, 1, -8, o.CMPXCHG),
    "w0 = load_acquire((u8 *)(r1 +0))": Instruction(o.STX | o.ATOMIC | o.B, 0, 1, 0, o.LOAD_ACQ),
    "store_release((u64 *)(r1 +0), r2)": Instruction(o.STX | o.ATOMIC | o.DW, 1, 2, 0, o.STORE_REL),
    "call bpf_map_lookup_elem": Instruction(o.JMP | o.CALL, 0, 0, 0, 1),
    "call bpf_map_lookup_elem#1": Instruction(o.JMP | o.CALL, 0, 0, 0, 1),
    "call 1": Instruction(o.JMP | o.CALL, 0, 0, 0, 1),
    "call pc+3": Instruction(o.JMP | o.CALL, 0, 1, 0, 3),
    "call kfunc[id:77][btf:2]": Instruction(o.JMP | o.CALL, 0, 2, 2, 77),
    "callx r2": Instruction(o.JMP | o.CALL | o.X, 2),
    "r1 = 0x1122334455667788 ll": Instruction(o.LDDW, 1, 0, 0, 0x1122334455667788),
    "r1 = -1 ll": Instruction(o.LDDW, 1, 0, 0, (1 << 64) - 1),
    "r1 = map[fd:5]": Instruction(o.LDDW, 1, o.PSEUDO_MAP_FD, 0, 5),
    "r1 = map[fd:5][0]+16": Instruction(o.LDDW, 1, o.PSEUDO_MAP_VALUE, 0, 16 << 32 | 5),
    "r2 = map[idx:3]": Instruction(o.LDDW, 2, o.PSEUDO_MAP_IDX, 0, 3),
    "r2 = map[idx:3][0]+8": Instruction(o.LDDW, 2, o.PSEUDO_MAP_IDX_VALUE, 0, 8 << 32 | 3),
    "r1 = btf_id[42][fd:7]": Instruction(o.LDDW, 1, o.PSEUDO_BTF_ID, 0, 7 << 32 | 42),
    "r1 = func[+5]": Instruction(o.LDDW, 1, o.PSEUDO_FUNC, 0, 5),
    "r0 = *(u8 *)skb[12]": Instruction(o.LD | o.ABS | o.B, 0, 0, 0, 12),
    "r0 = *(u16 *)skb[r1 +12]": Instruction(o.LD | o.IND | o.H, 0, 1, 0, 12),
    "exit": Instruction(o.JMP | o.EXIT),
}


@pytest.mark.parametrize("text, expected", C_FORMS.items(), ids=list(C_FORMS))
def test_c_forms(text, expected):
    assert assemble(text) == [expected]


MNEMONIC_FORMS = {
    "mov %r0, 1": Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 1),
    "add32 r1, 2": Instruction(o.ALU | o.ADD | o.K, 1, 0, 0, 2),
    "sdiv32 %r1, %r2": Instruction(o.ALU | o.DIV | o.X, 1, 2, 1),
    "neg %r3": Instruction(o.ALU64 | o.NEG, 3),
    "movsx1632 %r1, %r2": Instruction(o.ALU | o.MOV | o.X, 1, 2, 16),
    "be16 %r0": Instruction(o.ALU | o.END | o.TO_BE, 0, 0, 0, 16),
    "swap64 %r0": Instruction(o.ALU64 | o.END, 0, 0, 0, 64),
    "jeq %r1, 0x1, +2": Instruction(o.JMP | o.JEQ | o.K, 1, 0, 2, 1),
    "jsgt32 %r1, %r2, -1": Instruction(o.JMP32 | o.JSGT | o.X, 1, 2, -1),
    "ja +3": Instruction(o.JMP | o.JA, 0, 0, 3),
    "ldxw %r0, [%r1+4]": Instruction(o.LDX | o.MEM | o.W, 0, 1, 4),
    "ldxsh %r0, [%r10-2]": Instruction(o.LDX | o.MEMSX | o.H, 0, 10, -2),
    "stxdw [%r10-8], %r1": Instruction(o.STX | o.MEM | o.DW, 10, 1, -8),
    "sth [%r1 + 2], 5": Instruction(o.ST | o.MEM | o.H, 1, 0, 2, 5),
    "lddw %r0, 0x1122334455667788": Instruction(o.LDDW, 0, 0, 0, 0x1122334455667788),
    "lock add32 [%r10-4], %r1": Instruction(o.STX | o.ATOMIC | o.W, 10, 1, -4, o.ATOMIC_ADD),
    "lock fetch xor [%r10-8], %r3": Instruction(o.STX | o.ATOMIC | o.DW, 10, 3, -8, o.ATOMIC_XOR | o.FETCH),
    "lock cmpxchg32 [%r10-8], %r1": Instruction(o.STX | o.ATOMIC | o.W, 10, 1, -8, o.CMPXCHG),
    "ldabsh 12": Instruction(o.LD | o.ABS | o.H, 0, 0, 0, 12),
    "ldindb %r1, 4": Instruction(o.LD | o.IND | o.B, 0, 1, 0, 4),
    "call 5": Instruction(o.JMP | o.CALL, 0, 0, 0, 5),
    "call %r2": Instruction(o.JMP | o.CALL | o.X, 2),
}


@pytest.mark.parametrize("text, expected", MNEMONIC_FORMS.items(), ids=list(MNEMONIC_FORMS))
def test_mnemonic_forms(text, expected):
    assert assemble(text) == [expected]


def test_labels_both_syntaxes_mixed():
    program = assemble("""
        start:  mov %r0, 0       ; a label before an instruction
        loop:
                r0 += 1           // C syntax on the next line
                jlt %r0, 10, loop
                if r0 == 0x0 goto start
                call local done
                ja32 done
        done:   exit
    """)
    assert program[2] == Instruction(o.JMP | o.JLT | o.K, 0, 0, -2, 10)
    assert program[3] == Instruction(o.JMP | o.JEQ | o.K, 0, 0, -4, 0)
    assert program[4].imm == 1 and program[5].imm == 0


def test_implicit_exit_target():
    program = assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\n")
    assert program[0].off == 1


def test_verifier_log_and_objdump_prefixes():
    log = "0: (b7) r0 = 0\n1: (18) r1 = 0x1122334455667788 ll\n3: (95) exit\n"
    objdump = ("\nprog.o:\tfile format elf64-bpf\n\nDisassembly of section socket:\n\n"
               "0000000000000000 <prog>:\n"
               "       0:\tb7 00 00 00 0b 00 00 00\tr0 = 0xb\n"
               "       1:\t18 01 00 00 88 77 66 55\tr1 = 0x1122334455667788 ll\n"
               "       2:\t00 00 00 00 44 33 22 11\n"
               "       3:\t95 00 00 00 00 00 00 00\texit\n")
    assert [i.opcode for i in assemble(log)] == [0xB7, 0x18, 0x95]
    assert assemble(objdump)[0].imm == 11 and len(assemble(objdump)) == 3


@pytest.mark.parametrize("text, line, column, why", [
    ("r0 = 1\nr11 = 2", 2, 1, "unknown register 'r11'"),
    ("mov %r0, %r50", 1, 10, "unknown register '%r50'"),
    ("mov32 %r0, 2147483648", 1, 12, "does not fit a signed 32-bit integer"),
    ("mov32 %r0, 0x100000000", 1, 12, "does not fit in 32 bits"),
    ("ja NOT_A_LABEL", 1, 4, "undefined label 'NOT_A_LABEL'"),
    ("ldxb %r0, %r1", 1, 11, "expected a memory operand"),
    ("ldxb %r0, [%r1+0x10000]", 1, 16, "does not fit a signed 16-bit integer"),
    ("lddw %r0", 1, 1, "lddw takes 2 operands, got 1"),
    ("lock or [%r10-8]", 1, 1, "takes 2 operands"),
    ("lock", 1, 1, "lock takes an operation"),
    ("ldxq %r0, %r1", 1, 1, "unknown mnemonic 'ldxq'"),
    ("r1 = -r2", 1, 7, "negation works in place"),
    ("x:\nx: exit", 2, 1, "label 'x' is defined twice"),
    ("call nonsense_fn", 1, 6, "cannot call 'nonsense_fn'"),
    ("r1 = 5 +", 1, 1, "cannot parse"),
    ("w1 = (s32)w2", 1, 8, "sign extension from 32 bits is not defined for w registers"),
])
def test_errors_name_line_and_column(text, line, column, why):
    with pytest.raises(AsmError) as info:
        assemble(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert why in str(info.value)
    assert str(info.value).startswith(f"line {line}, column {column}: ")


def _conformance_files(kind: str):
    return sorted(shared_path("conformance", kind).glob("*.data"))


def test_every_conformance_program_assembles_to_its_raw_bytes():
    checked = 0
    for path in _conformance_files("tests"):
        parts = sections(path)
        program = assemble(parts.get("asm", ""))
        assert program, path.name
        if "raw" in parts:
            assert encode(program) == raw_bytes(parts["raw"]), path.name
            checked += 1
    assert checked >= 1


def test_conformance_assembly_errors():
    rejected = 0
    for path in _conformance_files("negative"):
        parts = sections(path)
        if not path.name.startswith("invalid_") or not parts.get("asm", "").strip():
            continue
        with pytest.raises(AsmError):
            assemble(parts["asm"])
        rejected += 1
    assert rejected >= 10


def test_disassembly_layout():
    program = assemble("r0 = 1\nr1 = 2 ll\nif r0 > 0x1 goto +1\nexit\nexit")
    assert disassemble(program, numbered=True).splitlines()[2] == "   3: if r0 > 0x1 goto +1"
    assert disassemble(program, labels=True).splitlines()[3:5] == ["L5:", "exit"] or \
        "goto L5" in disassemble(program, labels=True)
