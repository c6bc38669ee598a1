"""clang's typed syntax tree of a C program, as JSON (``-Xclang -ast-dump=json``), from
the same clang, target and headers :mod:`pybpf.toolchain.compile` compiles with.

Rewriters that must know what an expression *means* — which ``->`` dereferences a
pointer into kernel memory, which member is an array that decays rather than a value
that is loaded — read clang's own semantic analysis instead of guessing from tokens.
``vmlinux.h`` alone is tens of megabytes of declarations, so only the functions named
in ``functions`` are dumped (clang's ``-ast-dump-filter``): about 0.3 s for a program.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pybpf.toolchain.compile import CompileError, clang_flags

#: prefix given to each function dumped (by a ``#define``, so the program's own text
#: and its offsets stay as they are), which ``-ast-dump-filter`` then selects
_MARK = "__pybpf_ast_"


def function_trees(prefix: str, text: str, functions: Sequence[str],
                   cflags: Sequence[str] = ()) -> tuple[int, list[dict[str, Any]]] | None:
    """(offset of ``text`` in the file clang parsed, the FunctionDecl node of each of
    ``functions`` defined in ``text``), for the C program ``prefix + text``; None when
    clang could not parse it.

    Offsets in the nodes count from the start of that file: subtract the offset to get
    positions in ``text``. A function whose name the program also uses as a member or a
    tag (``x.count``, ``struct trace_entry``, declared before the renames) keeps its name
    and is dumped by a run of its own.
    """
    alone = [name for name in functions if re.search(rf"(?:\.|->|\b(?:struct|union|enum))\s*{name}\b", text)]
    marked = [name for name in functions if name not in alone]
    renames = "".join(f"#define {name} {_MARK}{name}\n" for name in marked)
    wanted = set(functions)
    trees: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "source.c"
        path.write_text(prefix + renames + text)
        for pattern in [_MARK] * bool(marked) + alone:
            command = [*_clang(), *clang_flags(Path.cwd(), cflags=cflags),
                       "-fsyntax-only", "-Xclang", "-ast-dump=json", "-Xclang", f"-ast-dump-filter={pattern}",
                       str(path)]
            try:
                done = subprocess.run(command, capture_output=True, text=True, check=False)
            except FileNotFoundError as exc:
                raise CompileError(f"cannot run the compiler: {exc}") from None
            # clang dumps the tree of a program with errors too (what it could not type is
            # a RecoveryExpr): the compile that follows reports the errors where they are
            trees += [node for node in _documents(done.stdout) if node.get("kind") == "FunctionDecl"
                      and _has_body(node) and source_name(node.get("name", "")) in wanted]
    unique = list({node["id"]: node for node in trees}.values())
    return (len(prefix) + len(renames), unique) if unique else None


def _clang() -> list[str]:
    """The ziglang wheel's clang, run as its ``zig`` binary directly where it is found
    (``python -m ziglang`` starts an interpreter first: 0.1 s)."""
    spec = importlib.util.find_spec("ziglang")
    if spec is not None and spec.origin is not None:
        zig = Path(spec.origin).parent / "zig"
        if zig.is_file() and os.access(zig, os.X_OK):
            return [str(zig), "clang"]
    return [sys.executable, "-m", "ziglang", "clang"]


def source_name(name: str) -> str:
    """A function's name as the program spells it (without the dump's prefix)."""
    return name.removeprefix(_MARK)


def _documents(output: str) -> list[dict[str, Any]]:
    """The JSON values clang printed one after another (one per matching declaration)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(output) and output[pos] != "{":
            pos += 1
        if pos >= len(output):
            return found
        value, pos = decoder.raw_decode(output, pos)
        found.append(value)


def _has_body(node: dict[str, Any]) -> bool:
    return any(child.get("kind") == "CompoundStmt" for child in node.get("inner", ()))
