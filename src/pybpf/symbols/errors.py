"""Errors of symbol lookup: a file that is not what it claims, or addresses kept hidden."""

from __future__ import annotations

from pybpf.errors import PybpfError


class SymbolError(PybpfError):
    """A symbol source could not be read: names the file and why."""
