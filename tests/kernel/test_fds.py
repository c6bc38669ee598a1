"""No file descriptor outlives its owner: counted in /proc/self/fd before and after."""

from __future__ import annotations

import gc
import os

import pytest
from sample_programs import counter

from pybpf.engine import load
from pybpf.kernel.maps import create_map, open_map_by_id
from pybpf.kernel.programs import Stats, load_program, open_program_by_id
from pybpf.object import CollectionSpec, MapFlag, MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_owners_close_everything_they_opened():
    before = _open_fds()
    spec = CollectionSpec.of(MapSpec("hits", MapType.ARRAY, 4, 8, 1,
                                     flags=MapFlag.MMAPABLE), counter("hits"))
    with load(spec, engine="kernel") as coll:
        coll.maps["hits"].memory()
        with open_map_by_id(coll.maps["hits"].id) as again, \
                open_program_by_id(coll.programs["count"].id), Stats():
            assert again[0] == 0
            assert _open_fds() > before
    assert _open_fds() == before


def test_garbage_collection_is_a_safety_net_only():
    before = _open_fds()
    create_map(MapSpec("dropped", MapType.HASH, 4, 4, 1))
    with create_map(MapSpec("m", MapType.ARRAY, 4, 8, 1)) as m:
        load_program(counter("m"), {"m": m.fd}.__getitem__)  # dropped without close
    gc.collect()
    assert _open_fds() == before
