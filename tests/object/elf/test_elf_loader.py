"""The ELF loader on objects compiled here with the clang in the ziglang wheel: programs
by section, subprograms linked, legacy maps, global variables as array maps, and
malformed input rejected with where and why. Loading into the kernel needs root."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pybpf
from pybpf.isa import opcodes as o
from pybpf.object import CollectionSpec, MapType, ProgramType
from pybpf.object.elf import ObjectError, load_object, section_kind
from pybpf.object.errors import SpecError

SOURCE = r"""
#define SEC(n) __attribute__((section(n), used))
typedef unsigned int u32; typedef unsigned long long u64;
static long (*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
struct bpf_map_def { u32 type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = { .type = 2, .key_size = 4, .value_size = 8, .max_entries = 4 };
volatile const u32 threshold = 3;
u64 total = 7;
u64 zeroed;
static __attribute__((noinline)) u64 twice_plus(u64 x) { return x * 2 + threshold; }
static __attribute__((noinline)) u64 chain(u64 x) { return twice_plus(x) + 1; }
SEC("socket") int count_packets(void *ctx) {
    u32 k = 0;
    u64 *v = (u64 *)bpf_map_lookup_elem(&counts, &k);
    if (v) { *v += 1; }
    total += 1;
    zeroed += 2;
    return (int)chain(total);
}
SEC("tracepoint/syscalls/sys_enter_getppid") int on_getppid(void *ctx) { return (int)twice_plus(1); }
SEC("xdp") int pass(void *ctx) { return 2; }
char _license[] SEC("license") = "Dual BSD/GPL";
"""


def compile_c(tmp_path, source: str, name: str = "prog") -> bytes:
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / f"{name}.o"
    result = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "bpfel-freestanding-none",
                             "-O2", "-g", "-c", str(src), "-o", str(out)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"the ziglang clang cannot compile here: {result.stderr.strip()[:200]}")
    return out.read_bytes()


@pytest.fixture(scope="module")
def object_bytes(tmp_path_factory):
    return compile_c(tmp_path_factory.mktemp("elf"), SOURCE)


def test_programs_maps_and_license(object_bytes):
    spec = load_object(object_bytes, name="prog")
    assert set(spec.programs) == {"count_packets", "on_getppid", "pass"}
    counter = spec.programs["count_packets"]
    assert counter.type == ProgramType.SOCKET_FILTER and counter.license == "Dual BSD/GPL"
    assert spec.programs["on_getppid"].type == ProgramType.TRACEPOINT
    assert spec.programs["on_getppid"].attach_to == "syscalls/sys_enter_getppid"
    assert spec.programs["pass"].expected_attach_type is not None
    assert spec.maps["counts"].type == MapType.ARRAY and spec.maps["counts"].value_size == 8
    data = {m.name: m for m in spec.maps.values() if m.contents is not None}
    assert set(data) == {"prog.rodata", "prog.data", "prog.bss"}
    assert data["prog.rodata"].freeze and data["prog.rodata"].contents[:4] == (3).to_bytes(4, "little")
    assert data["prog.data"].contents[:8] == (7).to_bytes(8, "little")
    assert data["prog.bss"].contents == bytes(8)


def test_subprograms_are_linked_and_calls_land_on_them(object_bytes):
    program = load_object(object_bytes, name="prog").programs["count_packets"]
    code = program.instructions
    starts = [0]
    for ins in code:
        starts.append(starts[-1] + ins.slots)
    calls = [(i, ins) for i, ins in enumerate(code) if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO]
    assert len(calls) >= 2  # count_packets → chain → twice_plus
    for i, ins in calls:
        target = starts[i] + 1 + ins.imm
        assert target in starts[:-1] and target > starts[i] or target < starts[i]
        assert code[starts.index(target) - 1].opcode == o.JMP | o.EXIT  # each subprogram follows an exit
    references = set(program.references.values())
    assert {"counts", "prog.data", "prog.bss"} <= references


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_loads_and_runs_on_both_engines(object_bytes, engine):
    from pybpf.engine import load

    if engine == "kernel" and os.geteuid() != 0:
        pytest.skip("loading into the kernel needs root")
    spec = load_object(object_bytes, name="prog")
    with load(spec, engine=engine) as coll:
        program = coll.programs["count_packets"]
        first = program.test_run(b"\0" * 64).retval
        second = program.test_run(b"\0" * 64).retval
        # total: 7 → 8 → 9; chain(x) = 2x + 3 + 1
        assert (first, second) == (2 * 8 + 4, 2 * 9 + 4)
        assert coll.maps["counts"][0] == 2
        assert coll.maps["prog.bss"][0] == 4          # an 8-byte value reads as an int


def test_section_kinds():
    assert section_kind("cgroup_skb/egress").program_type == ProgramType.CGROUP_SKB
    assert section_kind("uprobe/libc.so.6:malloc").target == "libc.so.6:malloc"
    assert section_kind("fentry.s/do_sys_openat2").sleepable
    assert section_kind("tracepoint") is None and section_kind("nonsense") is None


def test_unknown_program_section(tmp_path):
    data = compile_c(tmp_path, 'int __attribute__((section("weird"), used)) f(void *c) { return 0; }\n'
                               'char l[] __attribute__((section("license"), used)) = "GPL";', "weird")
    spec = load_object(data)        # opened with no type, as libbpf opens it
    assert spec.programs["f"].type == ProgramType.UNSPEC
    with pytest.raises(SpecError, match=r"section 'weird' names no program type.*--type"):
        pybpf.load(spec, engine="vm")
    typed = CollectionSpec(spec.maps, {"f": spec.programs["f"].copy(type="socket_filter")})
    with pybpf.load(typed, engine="vm") as loaded:
        assert loaded.programs["f"].test_run(bytes(64)).retval == 0


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b[:40], "not a valid ELF|malformed"),
    (lambda b: b"\x7fELF\x01" + b[5:], "32-bit"),
    (lambda b: b[:18] + (62).to_bytes(2, "little") + b[20:], "not BPF"),
    (lambda b: b[:16] + (2).to_bytes(2, "little") + b[18:], "relocatable"),
    (lambda b: b"garbage!" * 10, "not a valid ELF"),
])
def test_malformed_objects(object_bytes, mangle, why):
    with pytest.raises(ObjectError, match=why):
        load_object(mangle(object_bytes))


def test_missing_file(tmp_path):
    with pytest.raises(ObjectError, match="cannot read"):
        load_object(tmp_path / "nope.o")


BTF_SOURCE = r"""
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
typedef unsigned int u32; typedef unsigned long long u64;
struct pair { u32 a; u32 b; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *) 2;
struct { __uint(type, 1); __uint(max_entries, 16); __type(key, u32); __type(value, struct pair); } pairs SEC(".maps");
struct { __uint(type, 27); __uint(max_entries, 4096); } events SEC(".maps");
struct inner { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); };
struct { __uint(type, 12); __uint(max_entries, 2); __type(key, u32); __array(values, struct inner); } outer SEC(".maps");
SEC("socket") int remember(void *ctx) {
    u32 k = 3;
    struct pair *p = bpf_map_lookup_elem(&pairs, &k);
    if (p) { p->a += 1; return p->a + p->b; }
    struct pair fresh = { 1, 40 };
    bpf_map_update_elem(&pairs, &k, &fresh, 0);
    return 0;
}
char _license[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def btf_object(tmp_path_factory):
    return compile_c(tmp_path_factory.mktemp("btf"), BTF_SOURCE, "btfmaps")


def test_btf_defined_maps(btf_object):
    spec = load_object(btf_object, name="btfmaps")
    pairs, events, outer = spec.maps["pairs"], spec.maps["events"], spec.maps["outer"]
    assert (pairs.type, pairs.key_size, pairs.value_size, pairs.max_entries) == (MapType.HASH, 4, 8, 16)
    assert (events.type, events.max_entries) == (MapType.RINGBUF, 4096)
    assert outer.type == MapType.ARRAY_OF_MAPS and outer.inner.type == MapType.ARRAY and outer.inner.value_size == 8


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_btf_object_runs_the_same_on_both_engines(btf_object, engine):
    from pybpf.engine import EngineUnavailable, load

    if engine == "kernel" and os.geteuid() != 0:
        pytest.skip("the kernel engine needs root")
    spec = load_object(btf_object, name="btfmaps")
    spec.programs = {"remember": spec.programs["remember"]}
    spec.maps = {name: m for name, m in spec.maps.items() if name == "pairs"}
    try:
        coll = load(spec, engine=engine)
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
    with coll:
        runs = [coll.programs["remember"].test_run(bytes(64)).retval for _ in range(3)]
        assert runs == [0, 42, 43]
        assert coll.maps["pairs"][3] == {"a": 3, "b": 40}   # struct pair, through the map's BTF
        coll.maps["pairs"][5] = {"a": 1, "b": 2}
        assert coll.maps["pairs"][5].b == 2
