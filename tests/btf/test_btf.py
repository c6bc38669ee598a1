"""BTF parsing: the running kernel's BTF checked against bpftool, an object's BTF, and
malformed blobs (truncated, corrupted, fuzzed) refused with BTFError naming the byte."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF, BTFError, Kind

VMLINUX = "/sys/kernel/btf/vmlinux"


@pytest.fixture(scope="module")
def vmlinux():
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} is absent: this kernel has no BTF")
    return BTF.load(VMLINUX)


def test_task_struct_layout(vmlinux):
    task = vmlinux.find("task_struct", Kind.STRUCT)
    assert task is not None and task.size > 1000
    pid = vmlinux.member(task.id, "pid")
    assert pid.offset % 8 == 0 and vmlinux.sizeof(pid.type) == 4
    assert vmlinux.resolve(pid.type).kind == Kind.INT


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="needs bpftool as the reference")
def test_agrees_with_bpftool(vmlinux):
    out = subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX], capture_output=True, text=True,
                         check=True).stdout
    header = re.search(r"\[(\d+)\] STRUCT 'task_struct' size=(\d+) vlen=(\d+)", out)
    task = vmlinux[int(header[1])]
    assert (task.name, task.size, len(task.members)) == ("task_struct", int(header[2]), int(header[3]))
    assert len(vmlinux) - 1 == len(re.findall(r"^\[\d+\] ", out, re.M))
    pid_line = re.search(r"'pid' type_id=(\d+) bits_offset=(\d+)", out[header.start():])
    assert vmlinux.member(task.id, "pid").offset == int(pid_line[2])


def _blob() -> bytes:
    """A small valid BTF blob: int, pointer to it, a struct with both."""
    strings = b"\0int\0s\0a\0b\0"
    types = b"".join([
        (1).to_bytes(4, "little") + (1 << 24).to_bytes(4, "little") + (4).to_bytes(4, "little")
        + ((1 << 24) | 32).to_bytes(4, "little"),                                      # [1] INT int size 4 signed
        (0).to_bytes(4, "little") + (2 << 24).to_bytes(4, "little") + (1).to_bytes(4, "little"),  # [2] PTR -> 1
        (5).to_bytes(4, "little") + ((4 << 24) | 2).to_bytes(4, "little") + (16).to_bytes(4, "little")
        + (7).to_bytes(4, "little") + (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
        + (9).to_bytes(4, "little") + (2).to_bytes(4, "little") + (64).to_bytes(4, "little"),  # [3] STRUCT s
    ])
    header = (0xEB9F).to_bytes(2, "little") + bytes([1, 0]) + (24).to_bytes(4, "little") + \
        (0).to_bytes(4, "little") + len(types).to_bytes(4, "little") + \
        len(types).to_bytes(4, "little") + len(strings).to_bytes(4, "little")
    return header + types + strings


def test_small_blob():
    btf = BTF.parse(_blob())
    s = btf.find("s", Kind.STRUCT)
    assert btf.sizeof(s.id) == 16 and btf.member(s.id, "b").offset == 64
    assert btf.resolve(btf.member(s.id, "b").type).kind == Kind.PTR and btf.sizeof(2) == 8
    with pytest.raises(BTFError, match="has no member 'c' \\(a, b\\)"):
        btf.member(s.id, "c")


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b[:10], "shorter than the BTF header"),
    (lambda b: b"\x00\x00" + b[2:], "bad magic"),
    (lambda b: b[:2] + b"\x02" + b[3:], "unsupported BTF version 2"),
    (lambda b: b[:-3], "runs past the end"),
    (lambda b: b[:24 + 7] + bytes([31]) + b[24 + 8:], "unknown BTF kind 31"),
    (lambda b: b[:24 + 16 + 8] + (99).to_bytes(4, "little") + b[24 + 16 + 12:], "refers to type 99"),
    (lambda b: b[:24] + (500).to_bytes(4, "little") + b[28:], "name offset 500 is past"),
])
def test_malformed(mangle, why):
    with pytest.raises(BTFError, match=why):
        BTF.parse(mangle(_blob()))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_parse_or_btferror(data):
    blob = bytearray(_blob())
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    try:
        BTF.parse(bytes(blob))
    except BTFError:
        pass


def test_decode_records_from_an_objects_btf():
    import struct

    from pybpf.btf import decode
    from pybpf.object.elf import read_object
    from pybpf.toolchain import compile_c

    source = r"""
    #include <pybpf/bpf.h>
    enum color { RED = 1, GREEN = 2 };
    struct event { u32 pid; s16 delta; unsigned flag : 3; unsigned other : 5; char comm[8]; enum color c; u64 vals[2]; };
    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, u32); __type(value, struct event); } m SEC(".maps");
    SEC("socket") int f(void *ctx) { return 0; }
    LICENSE("GPL");
    """
    obj = read_object(compile_c(source))
    btf = BTF.parse(obj.section(".BTF").data)
    event = btf.find("event", Kind.STRUCT)
    offsets = {m.name: m.offset for m in event.members}
    data = bytearray(btf.sizeof(event.id))
    struct.pack_into("<I", data, offsets["pid"] // 8, 42)
    struct.pack_into("<h", data, offsets["delta"] // 8, -3)
    flag_bit, other_bit = offsets["flag"], offsets["other"]
    packed = int.from_bytes(data[flag_bit // 8:flag_bit // 8 + 2], "little") | (5 << (flag_bit % 8)) \
        | (17 << (other_bit - flag_bit // 8 * 8))
    data[flag_bit // 8:flag_bit // 8 + 2] = packed.to_bytes(2, "little")
    data[offsets["comm"] // 8:offsets["comm"] // 8 + 5] = b"bash\0"
    struct.pack_into("<I", data, offsets["c"] // 8, 2)
    struct.pack_into("<QQ", data, offsets["vals"] // 8, 7, 8)
    record = decode(btf, event.id, bytes(data))
    assert record == {"pid": 42, "delta": -3, "flag": 5, "other": 17, "comm": "bash", "c": "GREEN", "vals": [7, 8]}
    assert record.pid == 42 and repr(record).startswith("event(pid=42")
    with pytest.raises(BTFError, match="bytes are needed"):
        decode(btf, event.id, b"\0" * 4)


def test_numpy_dtype_matches_the_btf_layout():
    numpy = pytest.importorskip("numpy")
    from pybpf.btf import numpy_dtype
    from pybpf.object.elf import read_object
    from pybpf.toolchain import compile_c

    source = r"""
    #include <pybpf/bpf.h>
    struct event { u32 pid; s16 delta; char comm[8]; u64 vals[2]; };
    struct bits { unsigned a : 3; };
    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, struct bits); __type(value, struct event); } m SEC(".maps");
    SEC("socket") int f(void *ctx) { return 0; }
    LICENSE("GPL");
    """
    btf = BTF.parse(read_object(compile_c(source)).section(".BTF").data)
    event = btf.find("event", Kind.STRUCT)
    dtype = numpy_dtype(btf, event.id)
    assert dtype.itemsize == btf.sizeof(event.id)
    assert dtype.fields["comm"][1] == btf.member(event.id, "comm").offset // 8
    records = numpy.zeros(3, dtype=dtype)
    records["pid"] = [1, 2, 3]
    records["comm"] = [b"a", b"bb", b"ccc"]
    back = numpy.frombuffer(records.tobytes(), dtype=dtype)
    assert list(back["pid"]) == [1, 2, 3] and back["comm"][2] == b"ccc"
    with pytest.raises(BTFError, match="bits.a is a bitfield"):
        numpy_dtype(btf, btf.find("bits", Kind.STRUCT).id)
