"""Shared test fixtures. Paths to the repository and its vendored data (tests/data) live in shared_data.py
(import it by name: several directories have their own conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# make tests/shared_data.py and tests/conformance_data.py importable from every test directory
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

from pybpf.termination import sigterm_as_sigint  # noqa: E402


def pytest_configure(config):
    """A test run killed with SIGTERM (a CI timeout, ``kill``) unwinds as Ctrl-C does, so
    fixtures still remove the network namespaces, cgroups and pins they made."""
    config._pybpf_sigterm = sigterm_as_sigint()
    config._pybpf_sigterm.__enter__()


def pytest_unconfigure(config):
    handler = getattr(config, "_pybpf_sigterm", None)
    if handler is not None:
        handler.__exit__(None, None, None)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A compile/vmlinux.h cache of the test's own, so tests neither see nor leave
    entries in the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYBPF_CACHE", raising=False)
    return tmp_path / "cache"



@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """One private compile/vmlinux.h cache for a whole test module: vmlinux.h is
    generated once for the module, not per test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        patch.delenv("PYBPF_CACHE", raising=False)
        yield
