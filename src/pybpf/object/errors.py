"""Errors in a spec: found before any engine is asked to create anything."""

from __future__ import annotations

from pybpf.errors import PybpfError


class SpecError(PybpfError):
    """A MapSpec/ProgramSpec/CollectionSpec that no engine could honour, naming the spec."""


#: the characters of a map's or program's name (the kernel's bpf_obj_name_cpy)
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


def check_name(where: str, name: str) -> None:
    """Raise :class:`SpecError` for a name the kernel would refuse (a set, not a regular
    expression: importing ``re`` was ~1.5 ms of every command that makes a spec)."""
    if not name or not _NAME_CHARS.issuperset(name):
        raise SpecError(f"{where}: names are letters, digits, '_' and '.'")
