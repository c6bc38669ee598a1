"""The lazy BTF reader (pybpf.btf.table) and its persistent index (pybpf.btf.cache):
types decoded on demand equal those the type-by-type parser builds — on the running
kernel's BTF and on objects' — name look-ups find what a dictionary of every name finds,
malformed blobs get the same error, and the cache is used, ignored when corrupt and
rebuilt."""

from __future__ import annotations

import os
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF, BTFError, Kind, Member, Type, cache, table
from pybpf.btf.parse import parse_eager
from pybpf.object.core import candidates, essential_name
from pybpf.object.elf import read_object
from pybpf.toolchain import compile_c

VMLINUX = "/sys/kernel/btf/vmlinux"

OBJECT = r"""
#include <pybpf/bpf.h>
struct bits { unsigned a : 3; unsigned b : 5; int c : 12; unsigned long long d : 40; char e; };
struct anon { int kind; union { int i; struct { short lo, hi; }; long l; }; };
enum __attribute__((packed)) small { S0, S1 = 200 };
enum big { B0 = 0, B1 = 0xffffffffffULL };
enum neg { N0 = -5, N1 = 7 };
enum neg64 { M0 = -5, M1 = 0xffffffffffLL };
typedef int (*callback_t)(const char *restrict fmt, ...);
struct tagged { int x __attribute__((btf_decl_tag("member_tag"))); } __attribute__((btf_decl_tag("struct_tag")));
struct ptrs { const volatile int *cv; int __attribute__((btf_type_tag("user"))) *uptr; float f; double d;
              callback_t cb; int matrix[2][3]; };
struct flavored___v1 { int a; };
struct bits g1; struct anon g2; enum small g3; enum big g4; enum neg g5; enum neg64 g6; struct tagged g7;
struct ptrs g8; struct flavored___v1 g9;
static volatile int counter;
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
         __type(value, struct bits); } m SEC(".maps");
static __attribute__((noinline)) int helper(int x, long y) { return x + y + counter; }
SEC("socket") int prog(void *ctx) { return helper(1, 2); }
LICENSE("GPL");
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def kernel_blob():
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} is absent: this kernel has no BTF")
    with open(VMLINUX, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def kernel_eager(kernel_blob):
    return parse_eager(kernel_blob)


@pytest.fixture(scope="module")
def object_blob():
    return read_object(compile_c(OBJECT)).section(".BTF").data


def _names(btf: BTF) -> dict[str, list[int]]:
    by_name: dict[str, list[int]] = {}
    for t in btf.types:
        if t.name:
            by_name.setdefault(t.name, []).append(t.id)
    return by_name


def test_kernel_types_decoded_on_demand_equal_the_parsers(kernel_blob, kernel_eager):
    lazy = BTF.parse(kernel_blob)
    assert lazy._types is None and len(lazy) == len(kernel_eager)
    sample = random.Random(7).sample(range(len(kernel_eager)), 3000)
    by_kind: dict[Kind, int] = {}
    for t in kernel_eager.types:
        by_kind.setdefault(t.kind, t.id)      # the first type of every kind the kernel has
    for type_id in [*sample, *by_kind.values(), len(kernel_eager) - 1]:
        assert lazy[type_id] == kernel_eager[type_id]
    assert lazy._types is None                # still nothing decoded as a whole
    for name in ("task_struct", "sk_buff", "pt_regs", "bpf_map", "int", "pid", "file", "bpf_prog_run"):
        assert lazy.find(name) == kernel_eager.find(name)
        for kind in (Kind.STRUCT, Kind.FUNC, Kind.TYPEDEF, Kind.INT):
            assert lazy.find(name, kind) == kernel_eager.find(name, kind)
    task = lazy.find("task_struct", Kind.STRUCT)
    assert lazy.member(task.id, "pid") == kernel_eager.member(task.id, "pid")
    assert lazy.sizeof(task.id) == kernel_eager.sizeof(task.id)


def test_kernel_name_lookups_equal_a_dictionary_of_every_name(kernel_blob, kernel_eager):
    lazy = BTF.parse(kernel_blob)
    names = _names(kernel_eager)
    sample = random.Random(3).sample(sorted(names), 400)     # past the look-ups before the dictionary
    for name in sample + ["", "no_such_type_anywhere", "task_struct\0x", "\udcff"]:
        assert list(lazy.type_ids(name)) == names.get(name, [])
    prefixes = ["task_", "bpf_map", "sk_buff", "trace_event_raw_"]
    fresh = BTF.parse(kernel_blob)
    for prefix in prefixes:
        expected = sorted(n for n in names if n.startswith(prefix))
        assert fresh.names_with_prefix(prefix) == expected == lazy.names_with_prefix(prefix)


def test_all_kernel_types_equal_the_parsers(kernel_blob, kernel_eager):
    assert BTF.parse(kernel_blob).types == kernel_eager.types


def test_object_btf_equals_the_parsers(object_blob):
    eager, lazy = parse_eager(object_blob), BTF.parse(object_blob)
    assert {t.kind for t in eager.types} >= {Kind.INT, Kind.PTR, Kind.ARRAY, Kind.STRUCT, Kind.UNION, Kind.ENUM,
                                             Kind.ENUM64, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT,
                                             Kind.FUNC, Kind.FUNC_PROTO, Kind.VAR, Kind.DATASEC, Kind.FLOAT,
                                             Kind.DECL_TAG, Kind.TYPE_TAG}
    assert [lazy[i] for i in range(len(eager))] == eager.types
    for name, ids in _names(eager).items():
        assert list(lazy.type_ids(name)) == ids
        assert lazy.find(name) == eager.find(name)
    assert lazy.names_with_prefix("flavored") == eager.names_with_prefix("flavored") == ["flavored___v1"]
    assert lazy.types == eager.types and lazy.strings == eager.strings


def _blob(types: bytes, strings: bytes) -> bytes:
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def test_names_inside_other_strings_and_invalid_utf8_are_found():
    strings = b"\0xtask\0bad\xff\0"
    types = b"".join([
        struct.pack("<IIII", 1, 1 << 24, 4, 32),        # [1] INT "xtask"
        struct.pack("<IIII", 2, 1 << 24, 4, 32),        # [2] INT "task": the tail of "xtask"
        struct.pack("<III", 7, 2 << 24, 1),             # [3] PTR "bad\xff"
        struct.pack("<III", 2, 8 << 24, 1),             # [4] TYPEDEF "task"
    ])
    blob = _blob(types, strings)
    eager = parse_eager(blob)
    for btf in (BTF.parse(blob), BTF.parse(blob)):
        assert btf.type_ids("task") == (2, 4) and btf.type_ids("xtask") == (1,)
        assert btf.find("task", Kind.TYPEDEF) == eager[4]
        assert btf.find("bad\ufffd") == eager[3]
        assert btf.names_with_prefix("ta") == ["task"]
    assert BTF.parse(blob).types == eager.types


def test_btf_built_from_types_still_works():
    types = [Type(0, Kind.VOID), Type(1, Kind.INT, name="int", size=4, bits=32, encoding=1),
             Type(2, Kind.STRUCT, name="s", size=4, members=(Member("a", 1),)), Type(3, Kind.TYPEDEF, name="s", ref=2)]
    btf = BTF(types, b"")
    assert btf.types is types and btf.find("s", Kind.TYPEDEF).id == 3 and btf.type_ids("s") == (2, 3)
    assert btf.names_with_prefix("i") == ["int"] and btf.member(3, "a").type == 1
    with pytest.raises(BTFError, match=r"type id 4 is out of range \(0-3\)"):
        btf[4]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_malformed_blobs_get_the_parsers_answer(object_blob, data):
    blob = bytearray(object_blob)
    header_and_types = 24 + struct.unpack_from("<I", blob, 12)[0]
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, min(len(blob), header_and_types + 64) - 1))
        blob[where] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    try:
        expected = parse_eager(bytes(blob))
    except BTFError as exc:
        with pytest.raises(BTFError) as caught:
            BTF.parse(bytes(blob))
        assert str(caught.value) == str(exc)
    else:
        assert BTF.parse(bytes(blob)).types == expected.types


# -- the persistent index ---------------------------------------------------------


@pytest.fixture
def small_cache(monkeypatch):
    """Cache every blob, however small."""
    monkeypatch.setattr(cache, "MIN_SIZE", 0)


def _entries(private_cache) -> list:
    return sorted((private_cache / "pybpf" / "btf").glob("*.idx"))


def test_a_kernel_sized_blob_is_indexed_once_then_read_from_the_cache(kernel_blob, kernel_eager, private_cache,
                                                                     monkeypatch):
    first = BTF.parse(kernel_blob)
    [entry] = _entries(private_cache)
    assert entry.name == cache.blob_key(kernel_blob) + ".idx"

    def no_scan(*_):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(table, "scan", no_scan)
    monkeypatch.setattr(table, "validate", no_scan)
    again = BTF.parse(kernel_blob)
    task = kernel_eager.find("task_struct", Kind.STRUCT)
    assert again.find("task_struct", Kind.STRUCT) == task == first.find("task_struct", Kind.STRUCT)
    assert again[len(kernel_eager) - 1] == kernel_eager[len(kernel_eager) - 1]


def test_small_blobs_are_not_cached(object_blob, private_cache):
    BTF.parse(object_blob)
    assert not _entries(private_cache)


@pytest.mark.parametrize("damage", [
    lambda raw: raw[:len(raw) // 2],                                    # truncated
    lambda raw: raw[:-5] + bytes([raw[-5] ^ 0x40]) + raw[-4:],         # a flipped bit in the ids
    lambda raw: raw[:40] + bytes([raw[40] ^ 1]) + raw[41:],            # a flipped bit in the header
    lambda raw: b"garbage",
    lambda raw: b"",
    lambda raw: raw[:8] + struct.pack("<I", 99) + raw[12:],            # another format version
])
def test_a_corrupt_entry_is_ignored_and_rewritten(object_blob, small_cache, private_cache, damage):
    eager = parse_eager(object_blob)
    BTF.parse(object_blob)
    [entry] = _entries(private_cache)
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    assert BTF.parse(object_blob).types == eager.types
    assert entry.read_bytes() == good


def test_an_entry_for_other_content_is_not_used(object_blob, small_cache, private_cache):
    """Entries are found by the blob's digest; one renamed to another blob's is refused
    by its recorded sizes even though its own digest holds."""
    other = read_object(compile_c(OBJECT.replace("struct flavored___v1 g9;", ""))).section(".BTF").data
    BTF.parse(other)
    [entry] = _entries(private_cache)
    entry.rename(entry.with_name(cache.blob_key(object_blob) + ".idx"))
    assert BTF.parse(object_blob).types == parse_eager(object_blob).types


def test_the_cache_can_be_off_or_unwritable(object_blob, small_cache, private_cache, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", "off")
    BTF.parse(object_blob)
    assert not _entries(private_cache)
    monkeypatch.delenv("PYBPF_CACHE")
    private_cache.mkdir(parents=True)
    (private_cache / "pybpf").write_text("a file where the directory should be")
    assert BTF.parse(object_blob).types == parse_eager(object_blob).types


def test_old_entries_are_pruned(object_blob, small_cache, private_cache, monkeypatch):
    monkeypatch.setattr(cache.CACHE, "max_entries", 2)
    for n in range(4):
        BTF.parse(object_blob + bytes(n))       # trailing bytes: other digests, the same types
    assert 1 <= len(_entries(private_cache)) <= 2


# -- CO-RE candidates by name -------------------------------------------------------


def _old_candidates(index: dict[str, list[int]], local: BTF, local_id: int, target: BTF) -> list[int]:
    """The candidates as found before: from every target name put through essential_name()."""
    from pybpf.object.core.spec import kinds_compatible

    wanted = local[local_id]
    return [i for i in index.get(essential_name(wanted.name), ()) if kinds_compatible(target[i], wanted)]


def test_candidates_equal_those_from_every_name(kernel_blob, kernel_eager):
    target = BTF.parse(kernel_blob)
    index: dict[str, list[int]] = {}
    for t in kernel_eager.types:
        if t.name:
            index.setdefault(essential_name(t.name), []).append(t.id)
    names = sorted({t.name for t in kernel_eager.types if t.name})
    flavored = [n for n in names if essential_name(n) != n]
    rng = random.Random(11)
    wanted = ["task_struct", "sk_buff", "pt_regs", "file", "bpf_map", "int", "long unsigned int",
              *rng.sample(names, 150), *flavored[:50], *{essential_name(n) for n in flavored[:50]}]
    local_types = [Type(0, Kind.VOID)]
    for name in wanted:
        for kind in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.INT, Kind.TYPEDEF, Kind.FUNC):
            local_types.append(Type(len(local_types), kind, name=name + "___local"))
    local = BTF(local_types, b"")
    for t in local_types[1:]:
        assert candidates(local, t.id, target) == _old_candidates(index, local, t.id, kernel_eager), t.name


def test_a_lazy_btf_pickles(object_blob):
    import pickle

    lazy = BTF.parse(object_blob)
    again = pickle.loads(pickle.dumps(lazy))
    assert again.types == lazy.types == parse_eager(object_blob).types
    built = pickle.loads(pickle.dumps(BTF(lazy.types, lazy.strings)))
    assert built.types == lazy.types and built.find("bits") == lazy.find("bits")
