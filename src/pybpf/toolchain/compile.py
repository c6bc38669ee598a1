"""Compiling C to BPF objects with the clang that ships in the ``ziglang`` wheel — no
system LLVM, no kernel headers — with clang's diagnostics turned into errors that name
file, line and column, and a cache that makes recompiling unchanged source free.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from pybpf.errors import PybpfError

_DIAGNOSTIC = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<column>\d+): (?P<level>error|fatal error): (?P<message>.*)$",
                         re.M)


class CompileError(PybpfError):
    """clang refused the program: ``file``, ``line``, ``column`` of the first error, and
    all of clang's output in ``output``."""

    def __init__(self, message: str, file: str = "", line: int = 0, column: int = 0, output: str = ""):
        super().__init__(message)
        self.file, self.line, self.column, self.output = file, line, column, output


def include_dir() -> Path:
    """The project's BPF headers (``#include <pybpf/bpf.h>``)."""
    return Path(str(resources.files("pybpf.toolchain") / "include"))


def cache_dir() -> Path:
    """Where compiled objects are kept ($XDG_CACHE_HOME/pybpf/objects)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybpf" / "objects"


def _compiler(clang: str | None) -> list[str]:
    return [clang] if clang else [sys.executable, "-m", "ziglang", "cc"]


def _headers_digest() -> str:
    digest = hashlib.sha256()
    for header in sorted(include_dir().rglob("*.h")):
        digest.update(header.read_bytes())
    return digest.hexdigest()


def compile_c(source_or_path: str | Path, *, output: str | Path | None = None,
              include_dirs: Sequence[str | Path] = (), defines: Mapping[str, str | int] | None = None,
              clang: str | None = None, cflags: Sequence[str] = ()) -> bytes:
    """The BPF ELF object compiled from C source text or a ``.c`` file (written to
    ``output`` too when given). Raises :class:`CompileError` naming the first error."""
    if isinstance(source_or_path, Path) or (isinstance(source_or_path, str) and "\n" not in source_or_path
                                            and source_or_path.endswith(".c")):
        path = Path(source_or_path)
        try:
            source, name = path.read_text(), str(path)
        except OSError as exc:
            raise CompileError(f"{path}: cannot read: {exc.strerror}", str(path)) from None
        directory = path.parent
    else:
        source, name, directory = str(source_or_path), "<source>", Path.cwd()
    target = ["-target", "bpfel-freestanding-none"] if clang is None else ["-target", "bpf"]
    flags = [*target, "-O2", "-g", "-D__TARGET_ARCH_x86", "-I", str(include_dir()), "-I", str(directory),
             *(f"-I{d}" for d in include_dirs), *(f"-D{k}={v}" for k, v in (defines or {}).items()), *cflags]
    key = hashlib.sha256("\0".join([source, *flags, _headers_digest(), " ".join(_compiler(clang))]).encode()).hexdigest()
    cached = cache_dir() / f"{key}.o"
    if cached.exists():
        data = cached.read_bytes()
    else:
        data = _run_clang(source, name, flags, clang)
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, cached)
    if output is not None:
        with tempfile.NamedTemporaryFile(dir=Path(output).resolve().parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, output)
    return data


def _run_clang(source: str, name: str, flags: list[str], clang: str | None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (Path(name).name if name.endswith(".c") else "source.c")
        src.write_text(source)
        obj = Path(tmp) / "out.o"
        try:
            result = subprocess.run([*_compiler(clang), *flags, "-c", str(src), "-o", str(obj)],
                                    capture_output=True, text=True)
        except FileNotFoundError as exc:
            raise CompileError(f"cannot run the compiler: {exc}") from None
        output = result.stderr.replace(str(src), name)
        if result.returncode != 0:
            match = _DIAGNOSTIC.search(output)
            if match is None:
                raise CompileError(f"{name}: compilation failed: {output.strip()[:500]}", name, output=output)
            raise CompileError(f"{match['file']}:{match['line']}:{match['column']}: {match['message']}",
                               match["file"], int(match["line"]), int(match["column"]), output)
        return obj.read_bytes()
