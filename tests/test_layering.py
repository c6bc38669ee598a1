"""The package's layering rules, checked on the source: nothing outside ``pybpf.vm``
reaches into the JIT's modules (only ``pybpf.vm.jit``'s public names), and the thinnest
kernel module imports neither the object model nor BTF."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pybpf

SRC = Path(pybpf.__file__).parent


def test_nothing_outside_vm_imports_jit_internals():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "vm"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("pybpf.vm.jit."):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: from {node.module}")
                elif node.module == "pybpf.vm.jit" and any(a.name.startswith("_") for a in node.names):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: a private name of pybpf.vm.jit")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.relative_to(SRC)}:{node.lineno}: import {a.name}" for a in node.names
                              if a.name.startswith("pybpf.vm.jit.")]
    assert not offenders, "\n".join(offenders)


def test_the_syscall_layer_imports_no_object_model_or_btf():
    code = ("import sys, pybpf.kernel.syscall; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('pybpf'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "pybpf.kernel.syscall" in loaded
    heavy = [m for m in loaded if m.startswith(("pybpf.object", "pybpf.btf", "pybpf.engine", "pybpf.isa"))]
    assert not heavy, heavy


def test_nothing_outside_the_cli_imports_it():
    """The command line is the top layer: the library (the ``pybpf filter`` application
    included) never imports ``pybpf.cli``."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "cli") or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(SRC)}:{node.lineno}: {name}" for name in names
                          if name == "pybpf.cli" or name.startswith("pybpf.cli.")]
    assert not offenders, "\n".join(offenders)
