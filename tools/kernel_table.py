"""What the tools that ask the running kernel for a table (nullable_tracepoint_args.py,
gpl_only_helpers.py) share: a ``--check`` flag, and writing the generated module or
comparing it with the one in the tree."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def check_flag(description: str) -> bool:
    """Parse the command line of such a tool: whether ``--check`` was given."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare with the module instead of writing it")
    return parser.parse_args().check


def write_or_check(output: Path, text: str, check: bool) -> int:
    """Write ``text`` to ``output`` (status 0), or with ``check`` compare them (status 1
    when they differ), saying which on stdout. The tables are compared without their
    ``KERNELS = (...)`` line: a kernel that gives the same table as the module's is added
    to the module's kernels (builds of one version often agree), one that does not
    replaces them."""
    this = _kernels(text)
    old = output.read_text() if output.exists() else ""
    same = bool(old) and _without_kernels(old) == _without_kernels(text)
    if check:
        print("the module matches this kernel" if same else f"{output} differs from this kernel")
        return 0 if same else 1
    kernels = tuple(sorted(set(_kernels(old)) | set(this))) if same else this
    output.write_text(text.replace(f"KERNELS = {this!r}", f"KERNELS = {kernels!r}", 1))
    print(f"wrote {output} (kernels: {', '.join(kernels)})")
    return 0


def _kernels(text: str) -> tuple[str, ...]:
    """The ``KERNELS`` tuple a module's text names."""
    for line in text.splitlines():
        if line.startswith("KERNELS = "):
            return tuple(ast.literal_eval(line.removeprefix("KERNELS = ")))
    return ()


def _without_kernels(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("KERNELS = "))
