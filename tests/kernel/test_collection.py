"""Loading a CollectionSpec on the kernel engine; nothing outlives its owner."""

from __future__ import annotations

import logging
import os

import pytest
from sample_programs import counter, uninitialized_read

from pybpf.engine import EngineUnavailable, VerifierError, load, loading
from pybpf.object import CollectionSpec, MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def _spec() -> CollectionSpec:
    return CollectionSpec.of(MapSpec("hits", MapType.ARRAY, 4, 8, 1), counter("hits"))


def test_collection_loads_maps_then_programs_and_closes_them():
    with load(_spec(), engine="kernel") as coll:
        assert coll.engine == "kernel"
        coll.programs["count"].test_run(bytes(64), repeat=3)
        assert coll.maps["hits"][0] == 3
        fds = [coll.maps["hits"].fd, coll.programs["count"].fd]
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


def test_auto_picks_the_kernel_and_says_so_once(caplog, monkeypatch):
    monkeypatch.setattr(loading, "_announced", set())
    with caplog.at_level(logging.INFO, logger="pybpf.engine"):
        load(_spec()).close()
        load(_spec()).close()
    said = [r.getMessage() for r in caplog.records if "engine auto" in r.getMessage()]
    assert said == ["engine auto: using the kernel (bpf() is permitted)"]


def test_a_failing_program_closes_the_maps_already_made():
    # the no_fd_leak fixture fails this test if the map made before the refusal stays open
    spec = _spec()
    spec.programs["bad"] = uninitialized_read()
    with pytest.raises(VerifierError, match="program 'bad'"):
        load(spec, engine="kernel")


def test_unknown_engine_is_refused():
    with pytest.raises(EngineUnavailable, match="unknown engine 'gpu'"):
        load(_spec(), engine="gpu")
