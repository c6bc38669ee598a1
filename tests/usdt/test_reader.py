"""The generated USDT argument reader, compiled with the project's clang and run on the
vm engine with register frames built here: register, memory and constant arguments,
signed and unsigned, narrowed to their sizes."""

from __future__ import annotations

import os
import struct

import pytest

from pybpf.engine import load
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c
from pybpf.usdt import UsdtError, UsdtProbe, c_reader, parse_arguments

PROGRAM = r"""
#include <pybpf/bpf.h>
READER
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, u32); __type(value, long); } out SEC(".maps");
/* one call per argument, inlined: a loop over n loses n's value in the stack slot it
   lives in, and the kernel's verifier (like pybpf's) then finds "infinite loop detected" */
static inline __attribute__((always_inline)) void read_one(struct pt_regs *regs, u32 n)
{
    long value = 0;
    if (usdt_arg(regs, n, &value))
        value = -9999;
    bpf_map_update_elem(&out, &n, &value, 0);
}
SEC("usdt")
int read_all(struct pt_regs *regs)
{
    read_one(regs, 0);
    read_one(regs, 1);
    read_one(regs, 2);
    read_one(regs, 3);
    return 0;
}
LICENSE("GPL");
"""
PT_REGS = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
           "orig_ax", "ip", "cs", "flags", "sp", "ss")


def test_arguments_read_from_a_register_frame():
    probe = UsdtProbe("demo", "demo", "tick", 0, 0, 0, 0, parse_arguments("-4@%edi 8@%rsi -2@$-7 -4@8(%rsp)"))
    spec = load_object(compile_c(PROGRAM.replace("READER", c_reader(probe))), name="reader")
    with load(spec, engine="vm") as coll:
        # the stack pointer points into the context itself, so the memory argument reads from it
        from pybpf.vm.engine import CONTEXT_BASE

        regs = dict.fromkeys(PT_REGS, 0)
        regs.update(di=0xFFFF_FFFF_FFFF_FFFE, si=0x1122_3344_5566_7788, sp=CONTEXT_BASE + 8 * PT_REGS.index("r14") - 8)
        regs["r14"] = 0xFFFF_FFFF_8000_0000   # what 8(%rsp) points at: low 4 bytes 0x80000000, signed
        frame = struct.pack("<21Q", *(regs[name] for name in PT_REGS))
        coll.programs["read_all"].test_run(ctx=frame)
        # the map's values are plain 8-byte integers, read back unsigned
        mask = (1 << 64) - 1
        assert [coll.maps["out"][n] for n in range(4)] == [-2 & mask, 0x1122334455667788, -7 & mask, -(1 << 31) & mask]


def test_missing_argument_and_generated_text():
    probe = UsdtProbe("demo", "p", "n", 0, 0, 0, 0, parse_arguments("8@%rax"))
    text = c_reader(probe)
    assert "case 0:" in text and "default: return -2;" in text and "/* 8@%rax */" in text
    with pytest.raises(UsdtError, match="nope"):
        parse_arguments("8@%nope")


SITES_PROGRAM = r"""
#include <pybpf/bpf.h>
READERS
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, long); } out SEC(".maps");
SEC("usdt")
int read_sixth(struct pt_regs *regs)
{
    long value = 0;
    u32 zero = 0;
    switch (bpf_get_attach_cookie(regs)) {   /* which site fired, as pybpf.bcc's dispatch */
    case 0: site0(regs, 5, &value); break;
    case 1: site1(regs, 5, &value); break;
    }
    bpf_map_update_elem(&out, &zero, &value, 0);
    return 0;
}
LICENSE("GPL");
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="loads a program in the kernel: root only")
def test_sites_with_arguments_in_different_registers_pass_the_kernels_verifier():
    # hotspot's mem__pool__gc__begin/end: clang merged the per-site register loads into one
    # load from regs plus a chosen offset, which the verifier refuses ("dereference of
    # modified ctx ptr"); each load is an instruction of its own now
    begin = UsdtProbe("jvm", "hotspot", "begin", 0, 0, 0, 0,
                      parse_arguments("8@%r14 8@%rbx 8@%r13 8@%rdi 8@%r8 8@%rax 8@%r9 8@%rdx"))
    end = UsdtProbe("jvm", "hotspot", "end", 0, 0, 0, 0,
                    parse_arguments("8@%rbx 8@%r12 8@%r14 8@%rdx 8@%rcx 8@%r8 8@%rax 8@%rsi"))
    readers = c_reader(begin, "site0") + c_reader(end, "site1")
    spec = load_object(compile_c(SITES_PROGRAM.replace("READERS", readers)), name="sites")
    with load(spec, engine="kernel") as coll:
        assert coll.programs["read_sixth"].fd > 0
