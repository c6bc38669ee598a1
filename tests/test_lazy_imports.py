"""Packages import their modules on first use (pybpf._lazy), and every public name is
still where it was: ``import pybpf`` and the ``pybpf`` command load only what a command
needs."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import pybpf

LAZY_PACKAGES = ["pybpf", "pybpf.isa", "pybpf.cbpf", "pybpf.capture", "pybpf.vm", "pybpf.vm.jit", "pybpf.toolchain"]


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_public_name_resolves_to_its_definition(name):
    package = importlib.import_module(name)
    for public in package.__all__:
        value = getattr(package, public)
        exec(f"from {name} import {public} as imported", namespace := {})
        assert namespace["imported"] is value
        source = package._SOURCES.get(public)
        if source is not None:
            assert value is getattr(importlib.import_module(source), public)
        assert public in dir(package)


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_names_survive_importing_every_submodule(name):
    """Importing a submodule sets the package attribute of its name: a function named
    like its module (pybpf.cbpf.dump.dump) must still be the function afterwards."""
    package = importlib.import_module(name)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("__main__", "live"):
            importlib.import_module(f"{name}.{info.name}")
    for public, source in package._SOURCES.items():
        assert getattr(package, public) is getattr(importlib.import_module(source), public)


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute 'nonesuch'"):
        pybpf.nonesuch  # noqa: B018
    with pytest.raises(ImportError):
        exec("from pybpf.isa import nonesuch")


_LOADED = """
import sys
{code}
print(sorted(m for m in ({heavy}) if m in sys.modules))
"""
HEAVY = ("pybpf.engine", "pybpf.object", "pybpf.kernel", "pybpf.btf", "pybpf.filter", "pybpf.vm.interpreter",
         "pybpf.isa.assembler", "pybpf.toolchain.compile", "llvmlite", "pybpf.capture.summary")


def _loaded(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _LOADED.format(code=code, heavy=", ".join(map(repr, HEAVY)))],
                            capture_output=True, text=True, check=True)
    return eval(result.stdout.splitlines()[-1])


def test_import_pybpf_loads_no_engine():
    assert _loaded("import pybpf") == []
    assert "pybpf.engine" in _loaded("from pybpf import load")


def test_building_the_command_line_loads_no_command():
    assert _loaded("from pybpf.cli import build_parser; build_parser()") == []


def test_filter_dump_loads_the_compiler_only():
    assert _loaded("from pybpf.cli import main; main(['filter', '-d', 'ip', '-y', 'EN10MB'])") == ["pybpf.filter"]


def test_the_full_command_line_parser_imports_no_pathlib_or_typing():
    """``pybpf --help`` and every sub-command's parser stay off the modules that cost
    start-up time (pathlib pulls in urllib.parse and ipaddress; typing ~2 ms)."""
    code = ("import sys; from pybpf.cli import COMMANDS, build_parser; [build_parser(name) for name in COMMANDS]; "
            "print([m for m in ('pathlib', 'typing') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
