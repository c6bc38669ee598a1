"""cgroup_path(): a cgroup id as the paths of that cgroup in every mounted hierarchy,
``unified:/user.slice/...`` for cgroup v2 (first) then ``NAME:/...`` for each v1
hierarchy (named after its mount directory) in name order, as bpftrace prints it. A
cgroup's id is its directory's inode number, so the path is found by walking the
hierarchy; found paths are cached (and checked again before use, as ids are reused)."""

from __future__ import annotations

import fnmatch
import os

_found: dict[tuple[int, str], str] = {}


def hierarchy_roots() -> list[tuple[str, str]]:
    """(name, mount point) of each mounted cgroup hierarchy, from /proc/mounts."""
    roots = []
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[2] in ("cgroup", "cgroup2"):
                    name = "unified" if fields[2] == "cgroup2" else os.path.basename(fields[1])
                    roots.append((name, fields[1]))
    except OSError:
        return []
    return roots


def _path_in(cgroup_id: int, root: str) -> str:
    cached = _found.get((cgroup_id, root))
    if cached is not None and _inode(root + cached.rstrip("/")) == cgroup_id:
        return cached
    if _inode(root) == cgroup_id:
        found = "/"
    else:
        found = ""
        for directory, subdirectories, _files in os.walk(root):
            for name in subdirectories:
                if _inode(os.path.join(directory, name)) == cgroup_id:
                    found = os.path.join(directory, name)[len(root):]
                    break
            if found:
                break
    if found:
        _found[(cgroup_id, root)] = found
    return found


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1


def cgroup_path(cgroup_id: int, hierarchies: str = "*") -> str:
    """``NAME:PATH`` for each hierarchy matching ``hierarchies`` (a ``*`` pattern) in which
    cgroup ``cgroup_id`` exists, comma-separated."""
    roots = sorted((r for r in hierarchy_roots() if fnmatch.fnmatchcase(r[0], hierarchies)),
                   key=lambda r: (r[0] != "unified", r[0]))
    paths = ((name, _path_in(cgroup_id, root)) for name, root in roots)
    return ",".join(f"{name}:{path}" for name, path in paths if path)
