"""Errors in a spec: found before any engine is asked to create anything."""

from __future__ import annotations

from pybpf.errors import PybpfError


class SpecError(PybpfError):
    """A MapSpec/ProgramSpec/CollectionSpec that no engine could honour, naming the spec."""
