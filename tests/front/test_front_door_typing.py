"""The front door is visible to type checkers: a user's file written against ``import
pybpf`` passes ``mypy --strict`` (lazily imported names reach mypy with their real types,
not as ``object``), and the examples use nothing but ``import pybpf``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import REPO

USER_FILE = '''
from __future__ import annotations

import ctypes

import pybpf


class Record(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32)]


def main(path: str) -> int:
    spec: pybpf.CollectionSpec = pybpf.read(path, name="demo")
    with pybpf.load(spec, engine="vm") as coll:
        prog: pybpf.Program = coll.programs["demo"]
        result: pybpf.RunResult = prog.test_run(bytes(64))
        counts: pybpf.Map = coll.maps["counts"]
        total = sum(int(v) for v in counts.values())
        with pybpf.Events(coll.maps["events"], decode=Record) as events:
            for event in events.poll(timeout=0.1):
                cpu: int | None = event.cpu
                data: bytes = event.data
                print(cpu, len(data))
        try:
            link: pybpf.Link = prog.attach("tracepoint:syscalls:sys_enter_getppid")
            link.close()
        except pybpf.EngineUnavailable as exc:
            print(exc)
        return result.retval + total


reveal_type(pybpf.load)
reveal_type(pybpf.read)
'''


def test_user_file_passes_mypy_strict(tmp_path):
    if importlib_missing("mypy"):
        pytest.skip("mypy is not installed (it is in the [test] extra)")
    user = tmp_path / "user.py"
    user.write_text(USER_FILE)
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
                          str(tmp_path / "cache"), str(user)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    revealed = [line for line in run.stdout.splitlines() if "Revealed type" in line]
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not errors, run.stdout
    assert len(revealed) == 2 and all("def (" in line for line in revealed), run.stdout


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


def test_examples_import_only_the_front_door():
    for example in sorted((REPO / "examples").glob("*.py")):
        tree = ast.parse(example.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pybpf"):
                pytest.fail(f"{example.name}:{node.lineno}: from {node.module} import ... (use `import pybpf`)")
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name == "pybpf" or not alias.name.startswith("pybpf"), \
                        f"{example.name}:{node.lineno}: import {alias.name}"


def test_lazy_names_and_type_checking_imports_agree():
    """Every name ``pybpf`` imports on first use is also imported under TYPE_CHECKING
    from the same module (or type checkers would see ``object``)."""
    import pybpf

    tree = ast.parse(Path(pybpf.__file__).read_text())
    checked: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    for alias in stmt.names:
                        checked[alias.asname or alias.name] = stmt.module or ""
    assert checked == pybpf._SOURCES | {name: "pybpf" for name in pybpf._SUBPACKAGES}
