"""Random operation sequences on kernel maps against a Python model of their semantics.

The model is what docs/kernel.md promises for every engine (E2BIG when full, EEXIST
under NOEXIST, ENOENT under EXIST, KeyError for absent keys); every engine that can run
here goes through the same sequences.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.engine import ANY, EXIST, NOEXIST, BPFError
from pybpf.object import MapSpec, MapType

MAX = 4
keys = st.integers(0, 7)
operations = st.lists(st.one_of(
    st.tuples(st.just("update"), keys, st.integers(0, 2 ** 32 - 1),
              st.sampled_from([ANY, NOEXIST, EXIST])),
    st.tuples(st.just("delete"), keys),
    st.tuples(st.just("lookup"), keys),
    st.tuples(st.just("push"), st.integers(0, 255)),
    st.tuples(st.just("pop")),
), max_size=30)


def _model_update(model: dict, key: int, value: int, flags: int) -> int | None:
    if flags == NOEXIST and key in model:
        return errno.EEXIST
    if flags == EXIST and key not in model:
        return errno.ENOENT
    if key not in model and len(model) >= MAX:
        return errno.E2BIG
    model[key] = value
    return None


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_hash_map_matches_the_model(make_map, ops):
    model: dict[int, int] = {}
    with make_map(MapSpec("model", MapType.HASH, 4, 4, MAX)) as m:
        for op in ops:
            if op[0] == "update":
                expected = _model_update(model, *op[1:])
                try:
                    m.update(*op[1:])
                    assert expected is None
                except BPFError as exc:
                    assert exc.errno == expected
            elif op[0] == "delete":
                if op[1] in model:
                    del m[op[1]]
                    del model[op[1]]
                else:
                    with pytest.raises(KeyError):
                        del m[op[1]]
            elif op[0] == "lookup":
                assert m.get(op[1]) == model.get(op[1])
        assert dict(m.items()) == model
        assert len(m) == len(model)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations, st.sampled_from([MapType.QUEUE, MapType.STACK]))
def test_queue_and_stack_match_the_model(make_map, ops, kind):
    model: list[int] = []
    with make_map(MapSpec("model", kind, 0, 4, MAX)) as m:
        for op in ops:
            if op[0] == "push":
                if len(model) >= MAX:
                    with pytest.raises(BPFError) as caught:
                        m.push(op[1])
                    assert caught.value.errno == errno.E2BIG
                else:
                    m.push(op[1])
                    model.append(op[1])
            elif op[0] == "pop":
                if model:
                    assert m.pop() == model.pop(0 if kind == MapType.QUEUE else -1)
                else:
                    with pytest.raises(KeyError):
                        m.pop()
