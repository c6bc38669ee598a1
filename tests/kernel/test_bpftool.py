"""bpftool (the kernel tree's own tool) as the reference for what our objects are."""

from __future__ import annotations

import json
import subprocess

import pytest

from pybpf.kernel.maps import create_map
from pybpf.kernel.programs import load_program
from pybpf.object import MapSpec, MapType

from sample_programs import counter

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
    def ours() -> set[int]:
        maps = {m["id"] for m in _bpftool(bpftool, "map", "list") if m.get("name") == "leftover"}
        return maps
    with create_map(MapSpec("leftover", MapType.ARRAY, 4, 4, 1)) as m:
        assert m.id in ours()
        made = m.id
    # the kernel frees a map asynchronously after its last fd closes; its id may linger
    # for a moment but never comes back once gone, so wait for it without a deadline
    while made in ours():
        subprocess.run(["sleep", "0.01"], check=True)
