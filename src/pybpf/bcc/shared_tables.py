"""The maps of a BCC program, made as BCC's loader makes them: its own tables new; a
``BPF_TABLE_PINNED`` table is the map pinned at its path (any type: BCC does not enforce
the declared one), or a new one pinned there; a ``BPF_TABLE_SHARED``/``_PUBLIC`` table is
also kept for the rest of the process, where a later ``BPF_TABLE("extern", ...)`` of the
same name uses it.

BCC keeps a shared table's fd in the process's table storage after its ``BPF()`` is
cleaned up (an ``extern`` may still name it), and never removes a pin; both are kept
here the same way.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pybpf.bcc.table import TableError
from pybpf.bcc.tables_c import TableDecl
from pybpf.errors import BPFError
from pybpf.kernel.bpffs import filesystem_of, mount_for_pin

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import replace
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import replace

#: name → this process's own fd of a BPF_TABLE_SHARED/_PUBLIC map (BCC's table storage)
_SHARED: dict[str, Any] = {}


def load_tables(translation: Any, specs: Mapping[str, Any]) -> Any:
    """A kernel :class:`~pybpf.engine.Collection` of a translated program's maps (by the
    object's map names), pinned and shared ones included."""
    from pybpf.engine import load, possible_cpus
    from pybpf.object import CollectionSpec

    decls: dict[str, TableDecl] = {translation.map_names[name]: decl for name, decl in translation.tables.items()}
    extern = [name for name in specs if name in decls and decls[name].sharing == "extern"]
    for name in extern:
        if decls[name].name not in _SHARED:
            raise TableError(f"BPF_TABLE(\"extern\", ..., {decls[name].name}, ...): reference to undefined table: "
                             "no BPF() object of this process declared it with BPF_TABLE_SHARED or BPF_TABLE_PUBLIC")
    own = {name: replace(spec, max_entries=spec.max_entries or possible_cpus())
           for name, spec in specs.items() if name not in extern}
    collection = load(CollectionSpec(maps=own), engine="kernel")
    try:
        for name in extern:
            collection.maps[name] = _duplicate(_SHARED[decls[name].name])
        for name, decl in decls.items():
            if decl.pinned and name in collection.maps:
                collection.maps[name] = _pinned(decl, collection.maps[name])
        for name, decl in decls.items():
            if decl.sharing in ("shared", "public") and name in collection.maps:
                old = _SHARED.pop(decl.name, None)
                if old is not None:
                    old.close()
                _SHARED[decl.name] = _duplicate(collection.maps[name])
    except BaseException:
        collection.close()
        raise
    return collection


def _duplicate(kernel_map: Any) -> Any:
    """A map object of its own (closing it leaves ``kernel_map`` open) for the same map."""
    from pybpf.kernel.maps import KernelMap

    return KernelMap(kernel_map.spec, os.dup(kernel_map.fd))


def _pinned(decl: TableDecl, made: Any) -> Any:
    """The map pinned at ``decl.pinned`` (``made`` is closed), or ``made`` pinned there."""
    from pybpf.kernel.maps import open_pinned_map

    path = decl.pinned
    try:
        found = open_pinned_map(path)
    except BPFError as exc:
        if exc.errno != errno.ENOENT:
            made.close()
            raise TableError(f"pinned table {decl.name}: cannot open {path}: {exc}") from None
    else:
        made.close()
        return found
    try:
        _make_bpffs_directory(Path(path).parent, decl.name)
        made.pin(path)
    except BaseException:
        made.close()
        raise
    return made


def _make_bpffs_directory(directory: Path, table: str) -> None:
    """Make ``directory`` (and its parents) if needed, after checking it is on a BPF
    filesystem (BCC's bcc_make_parent_dir and bcc_check_bpffs_path)."""
    mount_for_pin(str(directory / table))
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fstype = filesystem_of(str(existing.resolve()))
    if fstype != "bpf":
        raise TableError(f"pinned table {table}: {directory} is not on a BPF filesystem ({existing} is on "
                         f"{fstype or 'an unknown filesystem'}); pin under /sys/fs/bpf")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise TableError(f"pinned table {table}: cannot make {directory}: {exc.strerror}") from None
