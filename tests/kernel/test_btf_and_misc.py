"""BTF_LOAD (with a program's func info), PROG_BIND_MAP and MAP_FREEZE."""

from __future__ import annotations

import errno
import os
import struct

import pytest
from sample_programs import returns

from pybpf.engine import BPFError, load
from pybpf.kernel.btf import load_btf
from pybpf.kernel.info import prog_info, prog_map_ids
from pybpf.kernel.maps import create_map
from pybpf.kernel.programs import load_program
from pybpf.object import BTFInfo, MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")

_INT, _FUNC_PROTO, _FUNC = 1, 13, 12


def _btf(types: bytes, strings: bytes) -> bytes:
    """A BTF blob: header (magic 0xeB9F, version 1), type section, string section."""
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                       len(strings)) + types + strings


def _program_btf() -> bytes:
    """int (id 1); int (void) prototype (id 2); global function "ret" of it (id 3)."""
    strings = b"\0int\0ret\0"
    types = (struct.pack("<IIII", 1, _INT << 24, 4, 0x01000020)
             + struct.pack("<III", 0, _FUNC_PROTO << 24, 1)
             + struct.pack("<III", 5, (_FUNC << 24) | 1, 2))
    return _btf(types, strings)


def test_btf_loads_and_a_program_carries_func_info():
    os.close(load_btf(_program_btf()))
    spec = returns(4).copy(btf=BTFInfo(_program_btf(), func_info=struct.pack("<II", 0, 3)))
    with load(spec, engine="kernel") as coll:
        prog = coll.programs["ret"]
        info = prog_info(prog.fd)
        assert info.btf_id != 0 and info.nr_func_info == 1
        assert prog.test_run(bytes(64)).retval == 4


def test_bad_btf_names_the_kernels_complaint():
    bad = _btf(struct.pack("<IIII", 1, _INT << 24, 4, 0x01000021), b"\0int\0")  # 33 bits
    with pytest.raises(BPFError) as caught:
        load_btf(bad)
    assert caught.value.errno == errno.EINVAL and caught.value.target == "BTF"
    assert caught.value.hint and "kernel rejected these attributes" not in caught.value.hint


def test_bind_map_keeps_an_unreferenced_map_with_the_program():
    with create_map(MapSpec("config", MapType.ARRAY, 4, 4, 1)) as config, \
            load_program(returns(0)) as prog:
        prog.bind_map(config.fd)
        assert prog_map_ids(prog.fd) == [config.id]


def test_frozen_maps_refuse_userspace_writes():
    with create_map(MapSpec("ro", MapType.ARRAY, 4, 4, 1)) as m:
        m[0] = 1
        m.freeze()
        with pytest.raises(BPFError) as caught:
            m[0] = 2
        assert caught.value.errno == errno.EPERM and "frozen" in str(caught.value)
        assert m[0] == 1
