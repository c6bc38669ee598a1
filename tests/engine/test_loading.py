"""Engine choice: explicit, auto with its one-time announcement, and clear refusals."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from pybpf.engine import Collection, EngineUnavailable, choose_engine, load, loading
from pybpf.object import MapSpec, MapType, SpecError


def _fake(name: str, refusal: str | None) -> types.ModuleType:
    module = types.ModuleType(name)
    module.available = lambda: refusal
    module.load_collection = lambda spec, **options: Collection(name, {}, {})
    return module


@pytest.fixture
def engines(monkeypatch):
    """Install fake kernel/vm engines; returns a function to set their refusals."""
    monkeypatch.setattr(loading, "_announced", set())

    def install(kernel: str | None, vm: str | None | bool) -> None:
        monkeypatch.setitem(sys.modules, "fake_kernel", _fake("kernel", kernel))
        table = {"kernel": "fake_kernel", "vm": "fake_vm"}
        if vm is not False:
            monkeypatch.setitem(sys.modules, "fake_vm", _fake("vm", vm))
        else:
            table["vm"] = "fake_absent_vm_module"
        monkeypatch.setattr(loading, "ENGINES", table)
    return install


def test_auto_falls_back_to_the_vm_and_warns_once(engines, caplog):
    engines("EPERM: not root", None)
    with caplog.at_level(logging.INFO, logger="pybpf.engine"):
        assert choose_engine().__name__ == "vm"
        assert choose_engine().__name__ == "vm"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["engine auto: using the vm (the kernel "
                                                  "engine cannot run here: EPERM: not root)"]


def test_no_engine_at_all(engines):
    engines("EPERM: not root", False)
    with pytest.raises(EngineUnavailable, match="no engine can run here.*EPERM.*vm engine "
                                                "is not part of this pybpf"):
        choose_engine()


def test_explicit_engine_refusal_and_success(engines):
    engines("EPERM: not root", None)
    with pytest.raises(EngineUnavailable, match="kernel engine cannot run here: EPERM"):
        load(MapSpec("m", MapType.HASH, 4, 4, 1), engine="kernel")
    with load(MapSpec("m", MapType.HASH, 4, 4, 1), engine="vm") as coll:
        assert coll.engine == "vm"


def test_specs_are_checked_before_any_engine(engines):
    engines(None, None)
    with pytest.raises(SpecError, match="map 'q'"):
        load(MapSpec("q", MapType.QUEUE, 4, 4, 1))
