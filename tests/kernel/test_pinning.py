"""Pin and unpin maps and programs on a BPF filesystem, and open them again by path."""

from __future__ import annotations

import errno
import os

import pytest
from sample_programs import returns

from pybpf.engine import BPFError, load
from pybpf.kernel.maps import create_map, open_pinned_map
from pybpf.kernel.programs import load_program, open_pinned_program
from pybpf.object import MapSpec, MapType, Pinning

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def test_map_pin_open_unpin(bpffs):
    path = os.path.join(bpffs, "counts")
    with create_map(MapSpec("counts", MapType.HASH, 4, 4, 8)) as m:
        m[1] = 11
        m.pin(path)
        with open_pinned_map(path, value_type="<I") as again:
            assert again.name == "counts" and again[1] == 11 and again.id == m.id
        m.unpin(path)
    assert not os.path.exists(path)
    with pytest.raises(BPFError) as caught:
        open_pinned_map(path)
    assert caught.value.errno == errno.ENOENT
    assert "no such path in a BPF filesystem" in str(caught.value)


def test_pin_outside_bpffs_is_refused_with_a_hint(tmp_path):
    with create_map(MapSpec("x", MapType.ARRAY, 4, 4, 1)) as m:
        with pytest.raises(BPFError) as caught:
            m.pin(str(tmp_path / "x"))
    assert caught.value.errno == errno.EPERM
    assert "not on a BPF filesystem" in str(caught.value)


def test_program_pin_and_open(bpffs):
    path = os.path.join(bpffs, "prog")
    with load_program(returns(3, "three")) as prog:
        prog.pin(path)
        with open_pinned_program(path) as again:
            assert again.name == "three" and again.test_run(bytes(64)).retval == 3
        prog.unpin(path)


def test_pinning_by_name_reuses_a_compatible_map(bpffs):
    spec = MapSpec("shared", MapType.ARRAY, 4, 8, 4, pinning=Pinning.BY_NAME, pin_path=bpffs)
    with load(spec, engine="kernel") as first:
        first.maps["shared"][2] = 99
    with load(spec, engine="kernel") as second:
        assert second.maps["shared"][2] == 99
    with pytest.raises(BPFError, match="max_entries is 4, the spec says 8"):
        load(spec.copy(max_entries=8), engine="kernel")
