"""load(..., reuse={name: map}): the programs use a map the caller already has (one opened
from a pin, as the tools' --cgroupmap does) instead of creating the spec's; the collection
owns it then."""

from __future__ import annotations

import os

import pytest
from sample_programs import counter, uninitialized_read

from pybpf.engine import VerifierError, load
from pybpf.kernel.maps import create_map
from pybpf.object import CollectionSpec, MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def test_the_programs_write_the_given_map_and_the_collection_closes_it():
    given = create_map(MapSpec("given_hits", MapType.ARRAY, 4, 8, 4))      # not the spec's size
    with load(CollectionSpec.of(MapSpec("hits", MapType.ARRAY, 4, 8, 1), counter("hits")), engine="kernel",
              reuse={"hits": given}) as coll:
        assert coll.maps["hits"] is given
        coll.programs["count"].test_run(bytes(64), repeat=2)
        assert given[0] == 2
        fd = given.fd
    with pytest.raises(OSError):
        os.fstat(fd)


def test_a_failed_load_closes_the_given_map():
    given = create_map(MapSpec("given_hits", MapType.ARRAY, 4, 8, 1))
    fd = given.fd
    refused = CollectionSpec.of(MapSpec("hits", MapType.ARRAY, 4, 8, 1), counter("hits"), uninitialized_read())
    with pytest.raises(VerifierError):
        load(refused, engine="kernel", reuse={"hits": given})
    with pytest.raises(OSError):
        os.fstat(fd)


def test_a_map_the_kernel_refuses_before_the_given_one_still_closes_it():
    from pybpf.errors import PybpfError

    given = create_map(MapSpec("given_hits", MapType.ARRAY, 4, 8, 1))
    fd = given.fd
    refused = CollectionSpec.of(MapSpec("keyless", MapType.HASH, 0, 8, 1), MapSpec("hits", MapType.ARRAY, 4, 8, 1),
                                counter("hits"))
    with pytest.raises(PybpfError):
        load(refused, engine="kernel", reuse={"hits": given})
    with pytest.raises(OSError):
        os.fstat(fd)
