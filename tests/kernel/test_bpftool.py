"""bpftool (the kernel tree's own tool) as the reference for what our objects are."""

from __future__ import annotations

import json
import subprocess

import pytest
from sample_programs import counter, returns

from pybpf.kernel.maps import create_map
from pybpf.kernel.programs import load_program
from pybpf.object import MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def _bpftool(tool: str, *args: str) -> object:
    out = subprocess.run([tool, "--json", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_map_attributes_agree_with_bpftool(bpftool):
    with create_map(MapSpec("agree", MapType.LRU_HASH, 12, 40, 33)) as m:
        shown = _bpftool(bpftool, "map", "show", "id", str(m.id))
    assert (shown["type"], shown["name"], shown["bytes_key"], shown["bytes_value"],
            shown["max_entries"]) == ("lru_hash", "agree", 12, 40, 33)


def test_program_id_tag_and_maps_agree_with_bpftool(bpftool):
    with create_map(MapSpec("hits", MapType.ARRAY, 4, 8, 1)) as hits, \
            load_program(counter("hits"), {"hits": hits.fd}.__getitem__) as prog:
        shown = _bpftool(bpftool, "prog", "show", "id", str(prog.id))
        assert (shown["type"], shown["name"], shown["tag"], shown["map_ids"]) == (
            "socket_filter", "count", prog.tag, [hits.id])


def test_nothing_is_left_loaded(bpftool):
    # the kernel drops an object's id as soon as its last reference goes (a map used by
    # a program is released with the program, later), so check a lone map and a program
    def listed(kind: str) -> set[int]:
        return {entry["id"] for entry in _bpftool(bpftool, kind, "list")}
    with create_map(MapSpec("leftover", MapType.ARRAY, 4, 4, 1)) as m:
        made_map = m.id
        assert made_map in listed("map")
    with load_program(returns(0, "leftover")) as prog:
        made_prog = prog.id
        assert made_prog in listed("prog")
    assert made_map not in listed("map")
    assert made_prog not in listed("prog")
