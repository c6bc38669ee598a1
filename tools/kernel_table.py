"""What the tools that ask the running kernel for a table (nullable_tracepoint_args.py,
gpl_only_helpers.py) share: a ``--check`` flag, and writing the generated module or
comparing it with the one in the tree."""

from __future__ import annotations

import argparse
from pathlib import Path


def check_flag(description: str) -> bool:
    """Parse the command line of such a tool: whether ``--check`` was given."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare with the module instead of writing it")
    return parser.parse_args().check


def write_or_check(output: Path, text: str, check: bool) -> int:
    """Write ``text`` to ``output`` (status 0), or with ``check`` compare them (status 1
    when they differ), saying which on stdout."""
    if check:
        same = output.exists() and output.read_text() == text
        print("the module matches this kernel" if same else f"{output} differs from this kernel")
        return 0 if same else 1
    output.write_text(text)
    print(f"wrote {output}")
    return 0
