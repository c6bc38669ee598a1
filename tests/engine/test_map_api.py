"""The shared Map layer on a minimal in-memory engine: what a new engine inherits.

``DictMap`` implements only the required primitives, as an engine that has no native
batch commands would, so these tests pin down the default batch loops and the
dict-like behaviour the vm engine gets for free.
"""

from __future__ import annotations

import errno

import pytest

from pybpf.engine import NOEXIST, BPFError, Map
from pybpf.object import MapSpec, MapType


class DictMap(Map):
    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.data: dict[bytes, bytes] = {}
        self.closes = 0

    def _lookup(self, key):
        return self.data.get(key)

    def _update(self, key, value, flags):
        if flags == NOEXIST and key in self.data:
            raise BPFError("BPF_MAP_UPDATE_ELEM", errno.EEXIST)
        self.data[key] = value

    def _delete(self, key):
        return self.data.pop(key, None) is not None

    def _next_key(self, key):
        keys = sorted(self.data)
        if key is None:
            return keys[0] if keys else None
        later = [k for k in keys if k > key]
        return later[0] if later else None

    def _close(self):
        self.closes += 1

    @property
    def id(self):
        return 1


def _map() -> DictMap:
    return DictMap(MapSpec("d", MapType.HASH, 1, 2, 100))


def test_default_batches_loop_over_the_primitives():
    m = _map()
    m.update_batch([(k, k * 2) for k in range(10)])
    assert m.lookup_batch(chunk=3) == [(k, k * 2) for k in range(10)]
    m.delete_batch([0, 1])
    with pytest.raises(BPFError) as caught:
        m.delete_batch([0])
    assert caught.value.errno == errno.ENOENT
    assert m.lookup_and_delete_batch(chunk=4) == [(k, k * 2) for k in range(2, 10)]
    assert m.data == {}
    with pytest.raises(ValueError):
        m.lookup_batch(chunk=0)


def test_dict_protocol():
    m = _map()
    m[1] = 2
    m.update(3, 4, NOEXIST)
    assert (list(m), list(m.values()), len(m), 1 in m, 2 in m) == ([1, 3], [2, 4], 2, True, False)
    assert m.get(9) is None and m.get(1) == 2
    with pytest.raises(KeyError):
        del m[9]
    m.clear()
    assert len(m) == 0 and bool(m)


def test_queue_operations_need_engine_support():
    m = DictMap(MapSpec("q", MapType.QUEUE, 0, 4, 4))
    with pytest.raises(BPFError, match="does not support push"):
        m.push(1)
    with pytest.raises(TypeError, match="cannot count"):
        len(m)


def test_fd_maps_need_the_engine_to_name_objects():
    m = DictMap(MapSpec("p", MapType.PROG_ARRAY, 4, 4, 4))
    m[0] = 5  # a raw handle is stored as is
    assert m[0] == 5
    with pytest.raises(Exception, match="not an object this engine can store"):
        m[1] = object()


def test_close_runs_once_and_context_manager_closes():
    with _map() as m:
        pass
    m.close()
    assert m.closed and m.closes == 1
    assert "closed" in repr(m)
