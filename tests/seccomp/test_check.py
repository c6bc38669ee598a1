"""What seccomp refuses beyond the classic checks, the seccomp_data layout the dry run
feeds the interpreter, and the system call table against its source header."""

from __future__ import annotations

import struct

import pytest

from pybpf.cbpf import CbpfError, run
from pybpf.cbpf.asm import assemble
from pybpf.seccomp import Action, check_filter, data, gen_syscalls, syscalls, test_run
from pybpf.seccomp.syscalls_x86_64 import SYSCALLS


@pytest.mark.parametrize("text, why", [
    ("ldh [0]\nret a", "instruction 0: opcode 0x28 is not allowed in a seccomp filter"),
    ("ld [x + 0]\nret a", "instruction 0: opcode 0x40 is not allowed"),
    ("ld #1\nmod #3\nret a", "instruction 1: opcode 0x94 is not allowed"),
    ("ld [64]\nret a", "instruction 0: ld \\[64\\] is not an aligned word of the 64-byte seccomp_data"),
    ("ld [2]\nret a", "ld \\[2\\] is not an aligned word"),
    ("ld #proto\nret a", "ld \\[4294963200\\] is not an aligned word"),
    ("ld #1\ndiv #0\nret a", "instruction 1: division by the constant 0"),          # the classic checks first
])
def test_check_filter_refusals(text, why):
    with pytest.raises(CbpfError, match=why):
        check_filter(assemble(text))


def test_a_hand_written_filter():
    # ld #len is 64 under seccomp: the dry run's seccomp_data is exactly that long
    program = assemble("""
        ld #len
        jne #64, bad
        ld [0]                  ; nr
        jeq #39, getpid         ; getpid
        ld [24]                 ; args[1], low word
        jset #1, odd
        ret #0x7fff0000
    getpid: ret #0x50026        ; errno(ENOSYS)
    odd:    ret #0x7ffc0000
    bad:    ret #0
    """)
    assert test_run(program, "getpid") == Action("errno", 38)
    assert test_run(program, "read", (0, 3)) == Action("log")
    assert test_run(program, "read", (0, 2)) == Action("allow")


def test_seccomp_data_layout():
    packed = data.pack(59, (1, 2 << 32), ip=0x7FFF_0000_1234)
    words = struct.unpack(">16I", packed)
    assert len(packed) == data.SIZE == 64
    assert words[:6] == (59, data.AUDIT_ARCH_X86_64, 0x1234, 0x7FFF, 1, 0)
    assert words[6:8] == (0, 2) and words[8:] == (0,) * 8
    assert data.arg_offsets(5) == (56, 60)
    with pytest.raises(CbpfError, match="at most 6 arguments"):
        data.pack(0, (0,) * 7)
    program = assemble("ld [12]\nret a")           # the instruction pointer's high word
    assert run(program, data.pack(0, ip=0x7FFF_0000_1234)) == 0x7FFF
    assert test_run(assemble("ld [8]\nret a"), 0, ip=0x7FFF_0005_0001) == Action("errno", 1)


def test_syscall_names():
    assert syscalls.number("read") == 0 and syscalls.number("seccomp") == 317 and syscalls.number(39) == 39
    assert syscalls.name(60) == "exit" and syscalls.name(9999) == "syscall_9999"
    with pytest.raises(CbpfError, match="unknown x86-64 system call"):
        syscalls.number("frob")


def test_table_matches_its_source_header():
    header = gen_syscalls.DEFAULT_HEADER
    if not header.exists():
        pytest.skip(f"{header} is absent (Debian/Ubuntu: linux-libc-dev)")
    installed = gen_syscalls.parse_unistd(header.read_text())
    # a newer header may add calls; the committed numbers must not disagree with it
    assert {name: installed[name] for name in SYSCALLS if name in installed} == \
        {name: nr for name, nr in SYSCALLS.items() if name in installed}
    assert len(SYSCALLS) > 350 and str(header) in syscalls.SOURCE


def test_table_generator():
    header = "#define __NR_read 0\n#define __NR_write 1\n#define __X32_SYSCALL_BIT 0x40000000\n"
    table = gen_syscalls.parse_unistd(header)
    assert table == {"read": 0, "write": 1}
    namespace: dict = {}
    exec(gen_syscalls.render(table, "test"), namespace)
    assert namespace["SYSCALLS"] == table and namespace["SOURCE"] == "test"
    with pytest.raises(CbpfError, match="not a unistd header"):
        gen_syscalls.parse_unistd("int main;")
