"""The native hash tables of pybpf.vm.jit.hashes (hashmap.c) driven directly: random
sequences of lookups, updates (BPF_ANY, BPF_NOEXIST, BPF_EXIST, other flags) and deletes
over a small key space — many index collisions, a full map, slots reused — with
userspace's changes in between, give the results and the final map (keys in order,
values) that the vm HashMap's own helpers give on a twin map."""

from __future__ import annotations

import ctypes
import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.object import MapSpec, MapType
from pybpf.vm.jit import abi
from pybpf.vm.jit.hashes import native_hash
from pybpf.vm.maps import HashMap

SLOW = (1 << 64) - 1
_CALL = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)

operation = st.one_of(
    st.tuples(st.just("lookup"), st.integers(0, 40)),
    st.tuples(st.just("update"), st.integers(0, 40), st.integers(0, 1 << 32), st.sampled_from([0, 1, 2, 2, 4])),
    st.tuples(st.just("delete"), st.integers(0, 40)),
    st.tuples(st.just("userspace set"), st.integers(0, 40), st.integers(0, 99)),
    st.tuples(st.just("userspace delete"), st.integers(0, 40)),
)


def _maps(max_entries: int, key_size: int = 4) -> tuple[HashMap, HashMap]:
    spec = MapSpec(name="counts", type=MapType.HASH, key_size=key_size, value_size=8, max_entries=max_entries)
    return HashMap(spec, cpus=1), HashMap(spec, cpus=1)


class _Native:
    """Calls hashmap.c's functions as compiled code does (keys and values in a buffer)."""

    def __init__(self, target: HashMap):
        found = native_hash(target)
        if found is None:
            pytest.skip("nothing compiles hashmap.c here (no ziglang)")
        self.tables = found
        self.key_size = target.key_size
        self.buffer = (ctypes.c_char * 128)()
        d = found.descriptor
        self.lookup = _CALL(d[abi.D_LOOKUP])
        self.update = _CALL(d[abi.D_UPDATE])
        self.delete = _CALL(d[abi.D_DELETE])
        self.base = 0x4000_0000_0000
        found.sync(self.base)

    def key(self, key: int) -> int:
        ctypes.memmove(self.buffer, _key(key, self.key_size), self.key_size)
        return ctypes.addressof(self.buffer)

    def value(self, value: int) -> int:
        ctypes.memmove(ctypes.addressof(self.buffer) + 64, value.to_bytes(8, "little"), 8)
        return ctypes.addressof(self.buffer) + 64


def _key(number: int, size: int) -> bytes:
    """A key of ``size`` bytes for ``number`` (longer keys differ in their last bytes too)."""
    return (number.to_bytes(4, "little") * 16)[:size - 1] + bytes([number % 7]) if size > 4 else \
        number.to_bytes(4, "little")[:size]


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


@settings(max_examples=150, deadline=None)
@given(max_entries=st.integers(1, 24), key_size=st.sampled_from([4, 13, 16, 40]),
       operations=st.lists(operation, max_size=150))
def test_native_tables_do_what_the_maps_helpers_do(max_entries, key_size, operations):
    target, twin = _maps(max_entries, key_size)
    native = _Native(target)
    for op in operations:
        kind, key = op[0], _key(op[1], key_size)
        if kind == "lookup":
            found = native.lookup(native.tables.address, native.key(op[1]), 0, 0)
            expected = twin.value_buffer(key)
            assert (found != 0) == (expected is not None)
            if found:       # the slot's bytes are the value
                stride, slot = native.tables.stride, (found - native.base) // native.tables.stride
                assert bytes(native.tables.slab[slot * stride:slot * stride + 8]) == bytes(expected)
        elif kind == "update":
            answer = native.update(native.tables.address, native.key(op[1]), native.value(op[2]), op[3])
            if answer == SLOW:          # what compiled code does then: the Python helper
                assert op[3] not in (0, 1, 2)
                native.tables.drain()
                answer = target.helper_update(key, op[2].to_bytes(8, "little"), op[3]) & SLOW
                native.tables.sync(native.base)
            assert _signed(answer) == twin.helper_update(key, op[2].to_bytes(8, "little"), op[3])
        elif kind == "delete":
            answer = native.delete(native.tables.address, native.key(op[1]), 0, 0)
            assert _signed(answer) == twin.helper_delete(key)
        else:               # userspace, between batches
            native.tables.drain()
            for m in (target, twin):
                if kind == "userspace set":
                    try:
                        m[key] = op[2]
                    except Exception as exc:   # noqa: BLE001 - the same refusal on both
                        assert getattr(exc, "errno", None) == errno.E2BIG
                elif key in m:
                    del m[key]
            native.tables.sync(native.base)
    native.tables.drain()
    assert list(target.items()) == list(twin.items())


@pytest.mark.parametrize("seed", range(4))
def test_a_full_index_keeps_every_key_findable_through_deletes(seed):
    """A map filled to max_entries (index half full: long probe runs), keys deleted and
    inserted in random order: every key the map has is found, no other."""
    import random

    rng = random.Random(seed)
    target, _ = _maps(64)
    native = _Native(target)
    present: set[int] = set()
    for _ in range(3000):
        key = rng.randrange(200)
        if key in present and rng.random() < 0.6:
            assert native.delete(native.tables.address, native.key(key), 0, 0) == 0
            present.discard(key)
        elif key not in present and len(present) < 64:
            assert native.update(native.tables.address, native.key(key), native.value(key), 1) == 0
            present.add(key)
        probe = rng.randrange(200)
        assert (native.lookup(native.tables.address, native.key(probe), 0, 0) != 0) == (probe in present)
        if rng.random() < 0.01:
            native.tables.drain()
            assert {int.from_bytes(k, "little") for k in target.entries} == present
    native.tables.drain()
    assert sorted(int.from_bytes(k, "little") for k in target.entries) == sorted(present)
