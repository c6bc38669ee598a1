"""The Map API's semantics on every engine that can run here (the kernel now, the vm
when it lands): the same operations and the same answers, errno included."""

from __future__ import annotations

import ctypes
import errno
import ipaddress

import pytest

from pybpf.engine import EXIST, NOEXIST, BPFError, load, possible_cpus
from pybpf.object import CollectionSpec, MapFlag, MapSpec, MapType

HASHES = [MapType.HASH, MapType.LRU_HASH]


@pytest.mark.parametrize("kind", HASHES + [MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH])
def test_hash_like_sequence(kind, make_map):
    flags = MapFlag.NO_COMMON_LRU if kind == MapType.LRU_HASH else 0
    with make_map(MapSpec("seq", kind, 4, 8, 8, flags=flags)) as m:
        m[1] = 10
        m.update(2, 20, NOEXIST)
        m.update(2, 21, EXIST)
        expected = {1: 10, 2: 21}
        if kind.per_cpu:
            expected = {k: [v] * possible_cpus() for k, v in expected.items()}
        assert dict(m.items()) == expected
        assert 1 in m and 3 not in m
        assert len(m) == 2
        assert m.get(3, "none") == "none"
        del m[1]
        assert sorted(m.keys()) == [2]
        with pytest.raises(KeyError, match="7"):
            m[7]
        with pytest.raises(KeyError):
            del m[7]
        with pytest.raises(BPFError) as caught:
            m.update(2, 1, NOEXIST)
        assert caught.value.errno == errno.EEXIST and "BPF_NOEXIST" in str(caught.value)
        with pytest.raises(BPFError) as caught:
            m.update(9, 1, EXIST)
        assert caught.value.errno == errno.ENOENT
        m.clear()
        assert list(m.items()) == []


def test_full_hash_is_e2big(make_map):
    with make_map(MapSpec("full", MapType.HASH, 4, 4, 2)) as m:
        m[1], m[2] = 1, 2
        with pytest.raises(BPFError) as caught:
            m[3] = 3
        assert caught.value.errno == errno.E2BIG
        assert caught.value.errno_name == "E2BIG"
        assert "map is full (max_entries 2)" in str(caught.value)


def test_lru_evicts_instead_of_failing(make_map):
    with make_map(MapSpec("lru", MapType.LRU_HASH, 4, 4, 4,
                            flags=MapFlag.NO_COMMON_LRU)) as m:
        for key in range(64):
            m[key] = key
        assert len(m) <= 4
        assert 63 in m  # the newest entry survives; old ones were evicted


def test_per_cpu_values_are_lists_one_per_possible_cpu(make_map):
    ncpus = possible_cpus()
    with make_map(MapSpec("pcpu", MapType.PERCPU_ARRAY, 4, 4, 2)) as m:
        m[0] = list(range(1, ncpus + 1))
        assert m[0] == list(range(1, ncpus + 1))
        assert m[1] == [0] * ncpus
        with pytest.raises(Exception, match="possible CPUs"):
            m[0] = [1] * (ncpus + 1)


def test_array_has_every_index_and_refuses_delete(make_map):
    with make_map(MapSpec("arr", MapType.ARRAY, 4, 8, 3)) as m:
        assert len(m) == 3 and list(m.keys()) == [0, 1, 2]
        m[2] = 5
        assert list(m.values()) == [0, 0, 5]
        with pytest.raises(BPFError) as caught:
            del m[0]
        assert caught.value.errno == errno.EINVAL
        with pytest.raises(BPFError) as caught:
            m[3] = 1
        assert caught.value.errno == errno.E2BIG
        m.clear()
        assert list(m.values()) == [0, 0, 0]


@pytest.mark.parametrize("kind,order", [(MapType.QUEUE, [1, 2, 3]), (MapType.STACK, [3, 2, 1])])
def test_queue_and_stack_order(kind, order, make_map):
    with make_map(MapSpec("q", kind, 0, 4, 3)) as m:
        for value in (1, 2, 3):
            m.push(value)
        with pytest.raises(BPFError) as caught:
            m.push(4)
        assert caught.value.errno == errno.E2BIG
        assert m.peek() == order[0]
        assert [m.pop() for _ in range(3)] == order
        with pytest.raises(KeyError, match="empty"):
            m.pop()


def test_queue_push_exist_drops_the_oldest(make_map):
    with make_map(MapSpec("q", MapType.QUEUE, 0, 4, 2)) as m:
        for value in (1, 2, 3):
            m.push(value, EXIST)
        assert [m.pop(), m.pop()] == [2, 3]


def test_lpm_trie_longest_match(make_map):
    spec = MapSpec("lpm", MapType.LPM_TRIE, 8, 4, 16, flags=MapFlag.NO_PREALLOC)
    with make_map(spec) as m:
        m[("10.0.0.0", 8)] = 8
        m[ipaddress.ip_network("10.1.0.0/16")] = 16
        assert m[("10.1.2.3", 32)] == 16
        assert m[("10.2.2.3", 32)] == 8
        assert ("11.0.0.1", 32) not in m
        assert sorted(m.keys(), key=lambda n: n.prefixlen) == [
            ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("10.1.0.0/16")]


def test_bloom_filter_membership(make_map):
    with make_map(MapSpec("bloom", MapType.BLOOM_FILTER, 0, 4, 100, extra=3)) as m:
        for value in (1, 2, 3):
            m.push(value)
        assert all(v in m for v in (1, 2, 3))
        # a bloom filter may say yes to an absent value, but not to all of many
        assert not all(v in m for v in range(1000, 1100))


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint32), ("y", ctypes.c_uint32)]


def test_typed_keys_and_values(make_map):
    spec = MapSpec("typed", MapType.HASH, 8, 8, 4, key_type=Point, value_type="<ii")
    with make_map(spec) as m:
        m[Point(1, 2)] = (-1, 5)
        key, value = next(m.items())
        assert (key.x, key.y, value) == (1, 2, (-1, 5))
        m[bytes(Point(3, 4))] = b"\x00" * 8
        assert m[Point(3, 4)] == (0, 0)


@pytest.mark.parametrize("kind", [MapType.HASH, MapType.ARRAY, MapType.PERCPU_HASH])
def test_batch_operations(kind, make_map):
    with make_map(MapSpec("batch", kind, 4, 8, 64)) as m:
        m.update_batch({k: k * 10 for k in range(40)})
        got = dict(m.lookup_batch(chunk=7))
        assert dict(m.lookup_batch(chunk=1)) == got  # a bucket bigger than the chunk too
        per_cpu = (lambda v: [v] * possible_cpus()) if kind.per_cpu else (lambda v: v)
        expected = {k: per_cpu(k * 10) for k in range(40)}
        if kind == MapType.ARRAY:
            expected.update({k: 0 for k in range(40, 64)})
        assert got == expected
        if kind == MapType.ARRAY:
            return
        m.delete_batch(range(10))
        assert sorted(m.keys()) == list(range(10, 40))
        with pytest.raises(BPFError) as caught:
            m.delete_batch([5])
        assert caught.value.errno == errno.ENOENT
        popped = dict(m.lookup_and_delete_batch(chunk=8))
        assert sorted(popped) == list(range(10, 40)) and len(m) == 0


def test_maps_of_maps_read_back_inner_ids(engine):
    inner = MapSpec("inner", MapType.ARRAY, 4, 4, 1)
    spec = CollectionSpec.of(MapSpec("outer", MapType.HASH_OF_MAPS, 4, 4, 2, inner=inner),
                             inner)
    with load(spec, engine=engine) as coll:
        outer = coll.maps["outer"]
        outer[5] = coll.maps["inner"]
        assert dict(outer.items()) == {5: coll.maps["inner"].id}
        assert len(outer) == 1


def test_mmapable_array_memory(engine):
    spec = MapSpec("mm", MapType.ARRAY, 4, 4, 8, flags=MapFlag.MMAPABLE)
    with load(spec, engine=engine) as coll:
        m = coll.maps["mm"]
        m[3] = 0x01020304
        view = m.memory()
        assert bytes(view[24:28]) == (0x01020304).to_bytes(4, "little")   # values padded to 8 bytes
        view[8:12] = (7).to_bytes(4, "little")
        assert m[1] == 7
        view.release()


def test_stack_trace_map_from_userspace(engine):
    with load(MapSpec("st", MapType.STACK_TRACE, 4, 8 * 4, 16), engine=engine) as coll:
        st = coll.maps["st"]
        assert list(st.keys()) == []
        with pytest.raises(BPFError) as caught:
            st[1] = [1, 2, 3, 4]
        assert caught.value.errno == errno.EINVAL
