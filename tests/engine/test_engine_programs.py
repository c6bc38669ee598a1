"""Programs on every engine that can run here: the same spec, the same run results."""

from __future__ import annotations

import errno

import pytest
from sample_programs import counter, returns, tail_caller, uninitialized_read

from pybpf.engine import BPFError, VerifierError, load
from pybpf.isa import assemble
from pybpf.object import CollectionSpec, MapSpec, MapType, ProgramSpec

PACKET = bytes(range(64))


def test_return_value_and_repeat(engine):
    with load(returns(7), engine=engine) as coll:
        result = coll.programs["ret"].test_run(PACKET, repeat=3)
        assert result.retval == 7 and result.duration_ns >= 0


def test_map_references_resolve_to_the_collections_maps(engine):
    spec = CollectionSpec.of(MapSpec("hits", MapType.ARRAY, 4, 8, 1), counter("hits"))
    with load(spec, engine=engine) as coll:
        coll.programs["count"].test_run(PACKET, repeat=5)
        assert coll.maps["hits"][0] == 5
        coll.maps["hits"][0] = 100
        coll.programs["count"].test_run(PACKET)
        assert coll.maps["hits"][0] == 101


def test_uninitialized_register_is_a_verifier_error(engine):
    with pytest.raises(VerifierError) as caught:
        load(uninitialized_read(), engine=engine)
    assert "r5" in str(caught.value).lower() and caught.value.log


def test_tail_call_through_a_program_array(engine):
    spec = CollectionSpec.of(MapSpec("jmp", MapType.PROG_ARRAY, 4, 4, 2),
                             tail_caller("jmp", 1), returns(42, "callee"))
    with load(spec, engine=engine) as coll:
        caller = coll.programs["caller"]
        assert caller.test_run(PACKET).retval == 0      # empty slot: falls through
        coll.maps["jmp"][1] = coll.programs["callee"]
        assert caller.test_run(PACKET).retval == 42
        assert coll.maps["jmp"][1] == coll.programs["callee"].id


@pytest.mark.parametrize("kind", ["xdp", "sched_cls", "socket_filter", "cgroup_skb"])
def test_packet_shorter_than_an_ethernet_header_is_refused(engine, kind):
    spec = CollectionSpec.of(ProgramSpec("p", kind, assemble("r0 = 1\nexit")))
    with load(spec, engine=engine) as coll:
        for size in (0, 13):
            with pytest.raises(BPFError) as caught:
                coll.programs["p"].test_run(bytes(size))
            assert caught.value.errno == errno.EINVAL
        assert coll.programs["p"].test_run(bytes(14)).retval == 1


@pytest.mark.parametrize("repeat", [0, 1 << 32, 1 << 40])
def test_repeat_outside_32_bits_is_refused_not_cut(engine, repeat):
    """BPF_PROG_TEST_RUN counts runs in a u32: 2^32 would run once while saying more."""
    with load(returns(7), engine=engine) as coll:
        with pytest.raises(ValueError, match="repeat must be between 1 and 4294967295"):
            coll.programs["ret"].test_run(PACKET, repeat=repeat)
