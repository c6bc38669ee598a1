"""The error every malformed or unloadable BPF object raises."""

from __future__ import annotations

from pybpf.object.errors import SpecError


class ObjectError(SpecError):
    """A BPF object file that cannot be loaded: names the file, the section, symbol or
    byte offset at fault, and why."""
