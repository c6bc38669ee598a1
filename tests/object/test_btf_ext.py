""".BTF.ext parsed in full (func_info, line_info, CO-RE relocations), and each linked
program's func/line info moved to where the linker put its functions."""

from __future__ import annotations

import struct

import pytest

from pybpf.btf import BTF, BTFError, Kind
from pybpf.isa import opcodes as o
from pybpf.isa import slot_offsets
from pybpf.object.btf_ext import parse_btf_ext
from pybpf.object.core import ReloKind
from pybpf.object.elf import load_object, read_object

SOURCE = r"""
#include <pybpf/bpf.h>
struct pair { int first; int second; } __attribute__((preserve_access_index));
static __attribute__((noinline)) int square(int x) { return x * x; }
static __attribute__((noinline)) int sum_squares(int a, int b) { return square(a) + square(b); }
SEC("socket") int entry(struct __sk_buff *skb)
{
    int n = skb->len;
    return sum_squares(n, 3);
}
SEC("xdp") int second(struct xdp_md *ctx)
{
    struct pair p = { 1, 2 };
    struct pair *q = &p;
    return q->second + square(2);
}
LICENSE("GPL");
"""


@pytest.fixture(scope="module")
def obj(build):
    return build(SOURCE)


def _ext(data: bytes):
    elf = read_object(data)
    btf = BTF.parse(elf.section(".BTF").data)
    return btf, parse_btf_ext(elf.section(".BTF.ext").data, btf.strings)


def test_func_info_names_every_function(obj):
    btf, ext = _ext(obj)
    names = {section: [btf[f.type_id].name for f in records] for section, records in ext.func_info.items()}
    assert names["socket"] == ["entry"] and names["xdp"] == ["second"]
    assert sorted(names[".text"]) == ["square", "sum_squares"]
    assert all(btf[f.type_id].kind == Kind.FUNC for records in ext.func_info.values() for f in records)


def test_line_info_carries_the_source_text(obj):
    _btf, ext = _ext(obj)
    texts = [line.text.strip() for line in ext.line_info["socket"]]
    assert "int n = skb->len;" in texts and "return sum_squares(n, 3);" in texts
    first = ext.line_info["socket"][0]
    assert first.insn_off == 0 and first.line > 0 and first.file.endswith(".c")


def test_core_relocations_are_read(obj):
    btf, ext = _ext(obj)
    relos = ext.core_relos["xdp"]
    assert [ReloKind(r.kind) for r in relos] == [ReloKind.FIELD_BYTE_OFFSET]
    assert btf[relos[0].type_id].name == "pair" and relos[0].access == "0:1"


def test_each_program_gets_func_info_where_its_subprograms_landed(obj):
    spec = load_object(obj, name="ext", core_btf=BTF.parse(read_object(obj).section(".BTF").data))
    program = spec.programs["entry"]
    btf = BTF.parse(program.btf.btf)
    records = [struct.unpack_from("<II", program.btf.func_info, at) for at in range(0, len(program.btf.func_info), 8)]
    assert [btf[type_id].name for _, type_id in records] == ["entry", "sum_squares", "square"]
    starts = slot_offsets(program.instructions)
    calls = sorted(starts[i] + 1 + ins.imm for i, ins in enumerate(program.instructions)
                   if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO)
    assert [slot for slot, _ in records] == [0, *sorted(set(calls))]
    lines = [struct.unpack_from("<IIII", program.btf.line_info, at)[0]
             for at in range(0, len(program.btf.line_info), 16)]
    assert lines == sorted(lines) and lines[0] == 0
    assert {slot for slot, _ in records} <= set(lines)          # every function starts with a line
    assert "return x * x;" in program.btf.source_line(records[-1][0]).text


@pytest.mark.parametrize("mangle, why", [
    (lambda d: b"\x00\x00" + d[2:], "bad magic"),
    (lambda d: d[:10], "shorter than the .BTF.ext header"),
    (lambda d: d[:40], "runs past the end"),
    (lambda d: d[:8] + struct.pack("<I", 1 << 20) + d[12:], "runs past the end"),
])
def test_malformed_btf_ext_names_the_byte(obj, mangle, why):
    elf = read_object(obj)
    strings = BTF.parse(elf.section(".BTF").data).strings
    with pytest.raises(BTFError, match=why) as caught:
        parse_btf_ext(mangle(elf.section(".BTF.ext").data), strings)
    assert "byte" in str(caught.value)
