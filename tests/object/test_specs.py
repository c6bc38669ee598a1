"""Spec checks: what no engine would accept is refused before loading, naming the spec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.object import AttachType, CollectionSpec, MapFlag, MapSpec, MapType, ProgramSpec, ProgramType, SpecError

EXIT = Instruction(0x95)
R0_0 = Instruction(0xB7, 0, 0, 0, 0)
LDDW_R1 = Instruction(o.LDDW, 1, 0, 0, 0)


def test_enums_parse_names_numbers_and_members():
    assert MapType.parse("lru_hash") is MapType.LRU_HASH
    assert MapType.parse("HASH") is MapType.HASH
    assert MapType.parse(27) is MapType.RINGBUF
    assert str(ProgramType.SOCKET_FILTER) == "socket_filter"
    with pytest.raises(ValueError, match="not a MapType"):
        MapType.parse("hashh")


def test_map_spec_accepts_names_and_numbers_for_type():
    assert MapSpec("m", "percpu_array", 4, 4, 1).type is MapType.PERCPU_ARRAY
    with pytest.raises(SpecError, match="map 'm'.*not a MapType"):
        MapSpec("m", "nope")


@pytest.mark.parametrize("spec,message", [
    (MapSpec("", MapType.HASH, 4, 4, 1), "letters, digits"),
    (MapSpec("bad-name", MapType.HASH, 4, 4, 1), "letters, digits"),
    (MapSpec("q", MapType.QUEUE, 4, 4, 1), "no key"),
    (MapSpec("a", MapType.ARRAY, 8, 4, 1), "4-byte indexes"),
    (MapSpec("p", MapType.PROG_ARRAY, 4, 8, 1), "4-byte fds"),
    (MapSpec("l", MapType.LPM_TRIE, 8, 4, 1), "NO_PREALLOC"),
    (MapSpec("l", MapType.LPM_TRIE, 4, 4, 1, flags=MapFlag.NO_PREALLOC), "more than 4"),
    (MapSpec("o", MapType.ARRAY_OF_MAPS, 4, 4, 1), "inner map spec"),
    (MapSpec("h", MapType.HASH, 4, 4, 1, inner=MapSpec("i", MapType.ARRAY, 4, 4, 1)),
     "only array/hash of maps"),
    (MapSpec("r", MapType.RINGBUF, max_entries=5000), "power of 2"),
    (MapSpec("s", MapType.STACK_TRACE, 4, 12, 1), "8-byte addresses"),
    (MapSpec("n", MapType.HASH, -1, 4, 1), "key_size must not be negative"),
])
def test_map_spec_check_refusals(spec, message):
    with pytest.raises(SpecError, match=message):
        spec.check()


def test_long_names_are_kept_whole():
    """The kernel keeps 15 bytes of a name; as with libbpf, a longer one is cut when the
    object is created, and the spec keeps it whole."""
    assert MapSpec("a_map_with_a_long_name", MapType.HASH, 4, 4, 1).check().name == "a_map_with_a_long_name"


def test_inner_spec_is_checked_too():
    outer = MapSpec("o", MapType.HASH_OF_MAPS, 4, 4, 1, inner=MapSpec("x-y", MapType.ARRAY, 4, 4, 1))
    with pytest.raises(SpecError, match="map 'x-y'"):
        outer.check()


def test_compatible_names_the_first_difference():
    spec = MapSpec("m", MapType.HASH, 4, 8, 16)
    assert spec.compatible(spec.copy()) is None
    assert spec.compatible(spec.copy(max_entries=32)) == "max_entries is 32, the spec says 16"


def test_program_check_and_relocation():
    spec = ProgramSpec("p", "socket_filter", [LDDW_R1, R0_0, EXIT], references={0: "m"},
                       expected_attach_type="cgroup_inet_ingress")
    assert spec.expected_attach_type is AttachType.CGROUP_INET_INGRESS
    spec.check()
    out = spec.relocated({"m": 9}.__getitem__)
    assert out[0] == Instruction(o.LDDW, 1, o.PSEUDO_MAP_FD, 0, 9)
    assert spec.instructions[0] == LDDW_R1  # the spec itself is unchanged


def test_relocation_keeps_a_map_value_offset():
    value_load = Instruction(o.LDDW, 1, o.PSEUDO_MAP_VALUE, 0, 16 << 32)
    spec = ProgramSpec("p", ProgramType.XDP, [value_load, EXIT], references={0: "m"})
    assert spec.relocated(lambda name: 5)[0].imm == (16 << 32) | 5


@pytest.mark.parametrize("spec,message", [
    (ProgramSpec("p", ProgramType.XDP, []), "no instructions"),
    (ProgramSpec("p", ProgramType.XDP, [EXIT], references={3: "m"}), "instruction 3"),
    (ProgramSpec("p", ProgramType.XDP, [R0_0, EXIT], references={0: "m"}), "not an lddw"),
    (ProgramSpec("p q", ProgramType.XDP, [EXIT]), "letters, digits"),
])
def test_program_check_refusals(spec, message):
    with pytest.raises(SpecError, match=message):
        spec.check()


def test_collection_checks_references_and_duplicate_names():
    prog = ProgramSpec("p", ProgramType.SOCKET_FILTER, [LDDW_R1, EXIT], references={0: "m"})
    with pytest.raises(SpecError, match="refers to map 'm'.*does not define"):
        CollectionSpec.of(prog).check()
    CollectionSpec.of(MapSpec("m", MapType.ARRAY, 4, 4, 1), prog).check()
    with pytest.raises(SpecError, match="two specs are named 'm'"):
        CollectionSpec.of(MapSpec("m", MapType.ARRAY, 4, 4, 1), MapSpec("m", MapType.HASH, 4, 4, 1))
    misfiled = CollectionSpec(maps={"x": MapSpec("m", MapType.ARRAY, 4, 4, 1)})
    with pytest.raises(SpecError, match="filed under 'x'"):
        misfiled.check()


@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=1, max_size=8), st.data())
def test_relocation_touches_only_referenced_lddws(handles, data):
    body = [LDDW_R1 if i % 2 == 0 else R0_0 for i in range(2 * len(handles))] + [EXIT]
    references = {2 * i: f"m{i}" for i in range(len(handles))}
    spec = ProgramSpec("p", ProgramType.SOCKET_FILTER, body, references=references).check()
    table = {f"m{i}": h for i, h in enumerate(handles)}
    out = spec.relocated(table.__getitem__)
    assert len(out) == len(body)
    for index, ins in enumerate(out):
        if index in references:
            assert (ins.src, ins.imm, ins.dst) == (o.PSEUDO_MAP_FD, table[references[index]], 1)
        else:
            assert ins == body[index]
