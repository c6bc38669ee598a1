"""Fixtures that run a test once per engine that can run here.

``engine`` is each name in :data:`pybpf.engine.loading.ENGINES`, skipped with the
engine's own reason when it is absent or refused (the vm engine until it lands, the
kernel where bpf() is not permitted). ``make_map`` loads one MapSpec on that engine.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pybpf.engine import EngineUnavailable, Map, choose_engine, load, loading
from pybpf.object import MapSpec


@pytest.fixture(params=sorted(loading.ENGINES))
def engine(request) -> str:
    try:
        choose_engine(request.param)
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
    return request.param


@pytest.fixture
def make_map(engine) -> Callable[[MapSpec], Map]:
    """A function creating the map ``spec`` describes on this engine (close it after)."""
    def make(spec: MapSpec) -> Map:
        return load(spec, engine=engine).maps[spec.name]
    return make
