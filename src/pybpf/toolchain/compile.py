"""Compiling C to BPF objects with the clang that ships in the ``ziglang`` wheel — no
system LLVM, no kernel headers — with clang's diagnostics turned into values that name
file, line and column, ``#include <vmlinux.h>`` answered from the kernel's BTF, and a
cache that makes recompiling an unchanged program (headers included) free.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybpf.cache import DiskCache
from pybpf.errors import PybpfError
from pybpf.toolchain import vmlinux
from pybpf.toolchain.paths import include_dir, uapi_include_dirs
from pybpf.toolchain.vmlinux import KERNEL_BTF, vmlinux_include_dir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: compiled objects (``objects/`` under pybpf's cache root, :mod:`pybpf.cache`): an entry is
#: a line of JSON (the headers the program read, with their digests, and clang's
#: diagnostics), then the object
OBJECTS = DiskCache("objects", max_entries=1024, max_bytes=512 << 20)

_DIAGNOSTIC = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<column>\d+): "
                         r"(?P<level>fatal error|error|warning|note): (?P<message>.*)$", re.M)
_INCLUDES_VMLINUX = re.compile(r'^\s*#\s*include\s*[<"]vmlinux\.h[>"]', re.M)


@dataclass(frozen=True)
class Diagnostic:
    """One message from clang, where it points."""

    file: str
    line: int
    column: int
    level: str          # "error", "fatal error", "warning" or "note"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.level}: {self.message}"


class CompileError(PybpfError):
    """clang refused the program: ``file``, ``line``, ``column`` of the first error, every
    message in ``diagnostics``, and all of clang's output in ``output``."""

    def __init__(self, message: str, file: str = "", line: int = 0, column: int = 0, output: str = "",
                 diagnostics: tuple[Diagnostic, ...] = ()):
        super().__init__(message)
        self.file, self.line, self.column, self.output = file, line, column, output
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class CompiledObject:
    """A compiled BPF ELF object, the warnings clang printed for it (kept with cached
    objects too, so a cache hit reports what the first compile did), and whether it came
    from the cache."""

    data: bytes
    diagnostics: tuple[Diagnostic, ...] = ()
    cached: bool = False


def compile_c(source_or_path: str | Path, *, output: str | Path | None = None,
              include_dirs: Sequence[str | Path] = (), defines: Mapping[str, str | int] | None = None,
              clang: str | None = None, cflags: Sequence[str] = (),
              vmlinux_btf: str | Path = KERNEL_BTF) -> bytes:
    """The BPF ELF object compiled from C source text or a ``.c`` file (written to
    ``output`` too when given). Raises :class:`CompileError` naming the first error."""
    data = compile_object(source_or_path, include_dirs=include_dirs, defines=defines, clang=clang,
                          cflags=cflags, vmlinux_btf=vmlinux_btf).data
    if output is not None:
        with tempfile.NamedTemporaryFile(dir=Path(output).resolve().parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, output)
    return data


def compile_object(source_or_path: str | Path, *, include_dirs: Sequence[str | Path] = (),
                   defines: Mapping[str, str | int] | None = None, clang: str | None = None,
                   cflags: Sequence[str] = (), vmlinux_btf: str | Path = KERNEL_BTF) -> CompiledObject:
    """Compile like :func:`compile_c`, returning the warnings too. ``#include <vmlinux.h>``
    gets a header generated from ``vmlinux_btf`` (the running kernel's BTF by default)
    unless the program's directory or ``include_dirs`` has one; ``clang`` picks a system
    clang instead of the ziglang one."""
    source, name, directory = _read_source(source_or_path)
    own_header = any((Path(d) / "vmlinux.h").exists() for d in (directory, *include_dirs))
    wants_vmlinux = not own_header and bool(_INCLUDES_VMLINUX.search(source))
    args = (source, name, directory, include_dirs, defines or {}, clang, cflags, vmlinux_btf)
    try:
        return _compile(*args, wants_vmlinux)
    except CompileError as exc:     # vmlinux.h included by one of the program's own headers
        if wants_vmlinux or own_header or not any("'vmlinux.h' file not found" in d.message
                                                  for d in exc.diagnostics):
            raise
    return _compile(*args, True)


def _read_source(source_or_path: str | Path) -> tuple[str, str, Path]:
    """(text, name for messages, directory its quoted includes resolve in)."""
    if isinstance(source_or_path, Path) or (isinstance(source_or_path, str) and "\n" not in source_or_path
                                            and source_or_path.endswith(".c")):
        path = Path(source_or_path)
        try:
            return path.read_text(), str(path), path.parent
        except OSError as exc:
            raise CompileError(f"{path}: cannot read: {exc.strerror}", str(path)) from None
        except UnicodeDecodeError as exc:
            raise CompileError(f"{path}: byte {exc.start}: C source must be UTF-8 text", str(path)) from None
    return str(source_or_path), "<source>", Path.cwd()


def _compiler(clang: str | None) -> list[str]:
    return [clang] if clang else [sys.executable, "-m", "ziglang", "cc"]


def _headers_digest() -> str:
    digest = hashlib.sha256()
    for header in sorted(include_dir().rglob("*.h")):
        digest.update(header.read_bytes())
    return digest.hexdigest()


def _compile(source: str, name: str, directory: Path, include_dirs: Sequence[str | Path],
             defines: Mapping[str, str | int], clang: str | None, cflags: Sequence[str],
             vmlinux_btf: str | Path, with_vmlinux: bool) -> CompiledObject:
    flags = clang_flags(directory, include_dirs, defines, clang is None, cflags, vmlinux_btf, with_vmlinux)
    flags[2:2] = ["-O2", "-g"]      # after the target, where the cache keys have had them
    key = hashlib.sha256("\0".join([source, name, *flags, _headers_digest(), " ".join(_compiler(clang)),
                                     _DEBUG_PATHS]).encode()).hexdigest()
    hit = _cache_lookup(f"{key}.o")
    if hit is not None:
        return hit
    data, diagnostics, deps = _run_clang(source, name, flags, clang)
    record = json.dumps({"deps": deps, "diagnostics": [vars(d) for d in diagnostics]}).encode()
    OBJECTS.write(f"{key}.o", record + b"\n" + data)     # (compact JSON holds no newline)
    return CompiledObject(data, diagnostics)


def clang_flags(directory: Path, include_dirs: Sequence[str | Path] = (), defines: Mapping[str, str | int] | None = None,
                zig: bool = True, cflags: Sequence[str] = (), vmlinux_btf: str | Path = KERNEL_BTF,
                with_vmlinux: bool = True) -> list[str]:
    """The target, header directories and definitions every compile of a program gets
    (also what :mod:`pybpf.toolchain.syntax_tree` parses it with)."""
    target = ["-target", "bpfel-freestanding-none"] if zig else ["-target", "bpf"]
    flags = [*target, "-D__TARGET_ARCH_x86", "-I", str(include_dir()), "-I", str(directory),
             *(f"-I{d}" for d in include_dirs)]
    if with_vmlinux:        # after the program's own directories: a vmlinux.h of theirs wins
        flags += ["-I", str(vmlinux_include_dir(vmlinux_btf))]
    # libbpf's header names (<bpf/bpf_helpers.h>, ...) and the uapi headers, after the
    # program's own directories too: a project that vendors libbpf keeps its copies
    flags += ["-I", str(include_dir() / "libbpf"), *(f"-I{d}" for d in uapi_include_dirs()),
              "-I", str(include_dir() / "libc")]
    return flags + [*(f"-D{k}={v}" for k, v in (defines or {}).items()), *cflags]


def _cache_lookup(entry: str) -> CompiledObject | None:
    """The cached object, if every header it was built from still has the same contents."""
    body = OBJECTS.read(entry)
    if body is None:
        return None
    meta, _, data = body.partition(b"\n")
    try:
        record = json.loads(meta)
    except ValueError:
        return None
    for path, digest in record.get("deps", {}).items():
        try:
            if hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                return None
        except OSError:
            return None
    return CompiledObject(data, tuple(Diagnostic(**d) for d in record.get("diagnostics", ())), cached=True)


#: how objects name their source in debug info (part of the cache key: objects built
#: before it named a temporary copy of a file)
_DEBUG_PATHS = "files compiled in place"


def _run_clang(source: str, name: str, flags: list[str],
               clang: str | None) -> tuple[bytes, tuple[Diagnostic, ...], dict[str, str]]:
    """(object, clang's diagnostics, {header the program read: sha256}) — the headers
    are those the cache must re-check, so the shipped and generated ones are left out."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (Path(name).name if name.endswith(".c") else "source.c")
        src.write_text(source)
        obj, depfile = Path(tmp) / "out.o", Path(tmp) / "out.d"
        # a file is compiled where it is, so the object's line info names it (and carries
        # its lines' text); source given as text is compiled from a temporary copy
        own = Path(name)
        if name.endswith(".c") and own.is_file() and own.read_text() == source:
            src = own.resolve()
        try:
            result = subprocess.run([*_compiler(clang), *flags, "-MD", "-MF", str(depfile), "-c", str(src),
                                     "-o", str(obj)], capture_output=True, text=True)
        except FileNotFoundError as exc:
            raise CompileError(f"cannot run the compiler: {exc}") from None
        output = result.stderr.replace(str(src), name)
        diagnostics = tuple(Diagnostic(m["file"], int(m["line"]), int(m["column"]), m["level"], m["message"])
                            for m in _DIAGNOSTIC.finditer(output))
        if result.returncode != 0:
            errors = [d for d in diagnostics if d.level in ("error", "fatal error")]
            if not errors:
                raise CompileError(f"{name}: compilation failed: {output.strip()[:500]}", name, output=output,
                                   diagnostics=diagnostics)
            first = errors[0]
            more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
            raise CompileError(f"{first.file}:{first.line}:{first.column}: {first.message}{more}",
                               first.file, first.line, first.column, output, diagnostics)
        skip = (str(src), str(include_dir()), *vmlinux.generated_dirs(), *map(str, uapi_include_dirs()))
        deps = {}
        for path in _dependencies(depfile):
            if not path.startswith(skip):
                try:
                    deps[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                except OSError:
                    pass
        return obj.read_bytes(), diagnostics, deps


def _dependencies(depfile: Path) -> list[str]:
    """The prerequisites in a make-style dependency file (``out.o: a.c b.h \\``), as
    absolute paths."""
    try:
        text = depfile.read_text()
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    _, _, rest = text.partition(": ")
    words = re.findall(r"(?:\\ |[^\s])+", rest)
    return [os.path.abspath(w.replace("\\ ", " ")) for w in words]
