"""BTF that is well formed byte by byte but describes the impossible — a type containing
itself, a gigabyte union, chains tens of thousands deep — is refused in one line naming a
type id, or written out, but never walked forever, never a RecursionError and never an
allocation the size of the type (issue 12; the reproducers in tests/data/reproducers).

bpftool's behaviour for comparison: ``bpftool btf dump file`` lists the types of a cycle
raw and crashes (SIGSEGV) writing them as C; a memberless 1 GiB union it prints at once."""

from __future__ import annotations

import resource
import shutil
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF, BTFError, CDumpError, Kind, check_acyclic, decode, dump_c, dump_raw, encode
from pybpf.object.elf import ObjectError, load_object, read_object
from pybpf.toolchain import compile_c
from shared_data import REPO, shared_path
from time_limits import time_limit

REPRODUCERS = shared_path("reproducers")
CLI = [sys.executable, "-m", "pybpf"]


def _cli(*args: str, memory: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, preexec_fn=limit,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})




# -- building blobs ------------------------------------------------------------------

def blob(records: list[list[int]], names: list[str] = ()) -> bytes:
    """A BTF blob of ``records`` (each the words of one type), names at offsets 1, ..."""
    strings = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    types = b"".join(struct.pack(f"<{len(r)}I", *r) for r in records)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def info(kind: Kind, vlen: int = 0) -> int:
    return int(kind) << 24 | vlen


INT = [0, info(Kind.INT), 4, 32]                    # an unnamed 4-byte int


# -- the reproducers -----------------------------------------------------------------

@pytest.mark.parametrize("name, type_id", [("btf_typedef_cycle.btf", 1), ("btf_array_cycle.btf", 2)])
def test_a_cycle_is_one_line_naming_the_type_from_btf_dump(name, type_id):
    path = str(REPRODUCERS / name)
    done = _cli("btf", "dump", "--file", path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"pybpf btf: error: type {type_id} (") and "contains itself" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    raw = _cli("btf", "dump", "--file", path, "--format", "raw")   # bpftool lists them raw too
    assert raw.returncode == 0 and "TYPEDEF" in raw.stdout
    if shutil.which("bpftool"):
        listed = subprocess.run(["bpftool", "btf", "dump", "file", path], capture_output=True, text=True)
        assert raw.stdout.split() == listed.stdout.split()


def test_a_gigabyte_union_is_dumped_without_allocating_it():
    path = str(REPRODUCERS / "btf_huge_union.btf")
    done = _cli("btf", "dump", "--file", path, memory=1 << 30)
    assert done.returncode == 0, done.stderr
    assert "union u {" in done.stdout and len(done.stdout) < 4096
    raw = _cli("btf", "dump", "--file", path, "--format", "raw", memory=1 << 30)
    assert raw.stdout.strip() == "[1] UNION 'u' size=1073741824 vlen=0"


def test_an_object_whose_btf_has_a_cycle_is_refused_by_load_and_run():
    path = REPRODUCERS / "elf_btf_cycle.o"
    with pytest.raises(ObjectError, match=r"\.BTF: type \d+ \(\w+ .*\) contains itself"):
        load_object(path)
    for command in ("load", "run"):
        done = _cli(command, str(path))
        assert done.returncode != 0 and "contains itself" in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# -- made here -----------------------------------------------------------------------

CYCLES = {
    "typedef of itself": [[1, info(Kind.TYPEDEF), 1]],
    "const of a typedef of it": [[0, info(Kind.CONST), 2], [1, info(Kind.TYPEDEF), 1]],
    "struct holding itself": [[1, info(Kind.STRUCT, 1), 8, 0, 1, 0]],
    "struct holding an array of itself": [[1, info(Kind.STRUCT, 1), 8, 0, 2, 0], [0, info(Kind.ARRAY), 0, 1, 3, 2],
                                          INT],
    "union through a typedef": [[1, info(Kind.UNION, 1), 4, 0, 2, 0], [1, info(Kind.TYPEDEF), 1]],
    "variable of itself": [[1, info(Kind.VAR), 1, 0]],
    "prototype returning itself": [[0, info(Kind.FUNC_PROTO), 1]],
}


@pytest.mark.parametrize("records", CYCLES.values(), ids=CYCLES.keys())
def test_every_walk_refuses_a_cycle_naming_a_type(records):
    btf = BTF.parse(blob(records, ["t"]))
    dump_raw(btf)                           # a listing needs no walk
    with pytest.raises(CDumpError, match=r"^type \d+ \(\w+ .*\) contains itself"):
        dump_c(btf)
    for walk in (lambda: check_acyclic(btf), lambda: decode(btf, 1, bytes(64)), lambda: encode(btf, 1, {})):
        with pytest.raises(BTFError, match=r"^type \d+ .* contains itself"):
            walk()
    try:                                    # a record's size is in the record: no walk
        assert btf.sizeof(1) >= 0
    except BTFError as exc:
        assert "type 1" in str(exc) and "\n" not in str(exc)


def test_a_cycle_through_a_pointer_is_c():
    records = [[1, info(Kind.STRUCT, 1), 8, 1, 2, 0], [0, info(Kind.PTR), 1]]     # struct t { struct t *t; }
    btf = BTF.parse(blob(records, ["t"]))
    check_acyclic(btf)
    assert "struct t {\n\tstruct t *t;\n};" in dump_c(btf)


def test_deep_chains_need_no_recursion():
    depth = 30_000
    typedefs = [INT] + [[0, info(Kind.CONST), i] for i in range(1, depth)]      # const const ... int
    btf = BTF.parse(blob(typedefs))
    check_acyclic(btf)
    assert btf.sizeof(depth) == 4
    arrays = [INT] + [[0, info(Kind.ARRAY), 0, i, 1, 2] for i in range(1, 2000)]  # int[2][2]...[2]
    btf = BTF.parse(blob(arrays))
    assert btf.sizeof(2000) == 4 << 1999
    structs = [INT] + [[0, info(Kind.STRUCT, 1), 4, 0, i, 0] for i in range(1, depth)]   # anonymous nesting
    btf = BTF.parse(blob(structs))
    with time_limit(60):
        try:
            text = dump_c(btf, [depth])
        except CDumpError as exc:
            assert f"type {depth}" in str(exc) and "levels deep" in str(exc)
        else:
            assert text.count("struct {") == depth - 1


def test_huge_padding_is_never_written_out():
    gigabyte = 1 << 30
    named_int = [5, info(Kind.INT), 4, 32]
    struct_ = BTF.parse(blob([named_int, [1, info(Kind.STRUCT, 1), gigabyte, 1, 1, 0]], ["big", "int"]))
    with pytest.raises(CDumpError, match=r"^type 2 \(STRUCT big\): a gap of 1073741820 bytes"):
        dump_c(struct_)
    union = BTF.parse(blob([named_int, [1, info(Kind.UNION, 1), gigabyte, 1, 1, 0]], ["big", "int"]))
    assert "union big {\n\tint big;\n};" in dump_c(union)         # as libbpf: no tail padding


# -- random damage ---------------------------------------------------------------------

OBJECT = r"""
typedef unsigned int u32;
struct node { struct node *next; u32 value; char name[8]; union { int i; float f; } u; };
typedef struct node node_t;
enum colour { RED, GREEN = 7 };
struct holder { node_t nodes[3]; const volatile enum colour c; int (*fn)(int, node_t *); unsigned b : 3; };
struct holder holders[2];
int use(struct holder *h) { return h->nodes[1].value; }
"""


@pytest.fixture(scope="module")
def types_blob() -> bytes:
    return read_object(compile_c(OBJECT)).section(".BTF").data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_type_references_are_refused_or_walked(types_blob, data):
    """Type ids rewritten at random (so cycles appear): every walk ends, in a BTFError at most."""
    damaged = bytearray(types_blob)
    type_len = struct.unpack_from("<I", damaged, 12)[0]
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = 24 + 4 * data.draw(st.integers(0, type_len // 4 - 1), label="word")
        damaged[at:at + 4] = data.draw(st.integers(0, 40), label="id").to_bytes(4, "little")
    with time_limit(10):
        try:
            btf = BTF.parse(bytes(damaged))
        except BTFError:
            return
        dump_raw(btf)
        for walk in (lambda: dump_c(btf), *(lambda i=i: decode(btf, i, bytes(min(btf.sizeof(i), 1 << 16)))
                                            for i in range(1, len(btf)))):
            try:
                walk()
            except BTFError as exc:
                assert "\n" not in str(exc)
