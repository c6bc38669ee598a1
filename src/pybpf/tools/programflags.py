"""The flags BCC's tools share about their BPF program rather than their output:
``--ebpf`` (print the program and exit), and ``--cgroupmap PATH`` / ``--mntnsmap PATH``
(trace only the tasks whose cgroup id / mount namespace inode number is a key of the hash
map pinned at PATH, a map the user fills — BCC's docs/filter_by_cgroup.md and
special_filtering.md describe the workflow).

One mechanism serves every C tool: :func:`prepared` turns a tool's C text into the text
that is compiled — with ``--cgroupmap``/``--mntnsmap`` it declares the placeholder maps
and a ``tool_task_selected()`` check and inserts ``if (!tool_task_selected()) return 0;``
at the start of every program (every ``SEC("...")`` function), so a task outside the
selection returns before anything is recorded or counted, as BCC's FILTER_CGROUP and
FILTER_MNTNS lines at each probe's start do. The pinned maps themselves are opened here,
checked (a hash map with 8-byte keys, as BCC's ``bpftool map create ... key 8``) and handed
to the loader to use instead of creating the placeholders. With ``--ebpf`` the compiled
text (its ``-D`` defines written as ``#define`` lines, so it compiles as it is) is raised
as :class:`ProgramShown`, which ``pybpf tool`` prints before exiting with status 0.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping

from pybpf.tools.events import ToolError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

#: the placeholder maps the check reads, by the flag that replaces each with a pinned map
_PLACEHOLDERS = {"cgroupmap": "tool_cgroupmap", "mntnsmap": "tool_mntnsmap"}

_FILTER_C = r"""
#ifdef TOOL_CGROUPMAP
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, u64); __type(value, u64); } tool_cgroupmap SEC(".maps");
#endif
#ifdef TOOL_MNTNSMAP
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, u64); __type(value, u32); } tool_mntnsmap SEC(".maps");
/* the fields on the way to the namespace's inode number, as CO-RE "flavours" of the
   kernel's types (the name before ___ is matched), so programs without vmlinux.h use it too */
struct ns_common___tool { unsigned int inum; } __attribute__((preserve_access_index));
struct mnt_namespace___tool { struct ns_common___tool ns; } __attribute__((preserve_access_index));
struct nsproxy___tool { struct mnt_namespace___tool *mnt_ns; } __attribute__((preserve_access_index));
struct task_struct___tool { struct nsproxy___tool *nsproxy; } __attribute__((preserve_access_index));
#endif

/* false when the running task's cgroup id (--cgroupmap) or mount namespace inode number
   (--mntnsmap) is not a key of the user's pinned map */
static __always_inline bool tool_task_selected(void)
{
#ifdef TOOL_CGROUPMAP
    u64 cgroup = bpf_get_current_cgroup_id();
    if (!bpf_map_lookup_elem(&tool_cgroupmap, &cgroup))
        return false;
#endif
#ifdef TOOL_MNTNSMAP
    struct task_struct___tool *task = (struct task_struct___tool *)bpf_get_current_task();
    u64 mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
    if (!bpf_map_lookup_elem(&tool_mntnsmap, &mntns))
        return false;
#endif
    return true;
}
"""

#: a program's section annotation: SEC("name") — data sections (".maps", "license") excluded below
_SECTION = re.compile(r'\bSEC\("([^"]*)"\)')


class ProgramShown(Exception):
    """Raised instead of loading when ``--ebpf`` asked for the program: ``text`` is it."""

    def __init__(self, text: str):
        super().__init__("the program was asked for (--ebpf)")
        self.text = text


def add_arguments(parser: argparse.ArgumentParser, *, tasks: bool = False) -> None:
    """``--ebpf``, and with ``tasks`` ``--cgroupmap``/``--mntnsmap`` (the tools BCC gives them to)."""
    parser.add_argument("--ebpf", action="store_true", help="print the BPF program and exit")
    if tasks:
        parser.add_argument("--cgroupmap", metavar="PATH",
                            help="trace only cgroups whose id is a key of the BPF hash map pinned at PATH")
        parser.add_argument("--mntnsmap", metavar="PATH",
                            help="trace only mount namespaces whose inode number is a key of the BPF hash map "
                                 "pinned at PATH")


@dataclass
class Prepared:
    """A tool's program as compiled: its C text, its ``-D`` defines, and the pinned maps
    the loader uses instead of the placeholders of the same name (``load(..., reuse=)``)."""

    source: str
    defines: dict[str, Any]
    reuse: dict[str, Any] = field(default_factory=dict)


def prepared(source: str, defines: Mapping[str, Any] | None, args: argparse.Namespace | None) -> Prepared:
    """``source`` with the task filters ``args`` ask for, its pinned maps opened — or
    :class:`ProgramShown` raised for ``--ebpf`` (after the filters are applied, so the text
    shown is the one that would run)."""
    defines = dict(defines or {})
    paths = {flag: getattr(args, flag, None) for flag in _PLACEHOLDERS}
    if any(paths.values()):
        source = with_task_filter(source)
        for flag, path in paths.items():
            if path:
                defines[f"TOOL_{flag.upper()}"] = 1
    if getattr(args, "ebpf", False):
        raise ProgramShown("".join(f"#define {name} {value}\n" for name, value in defines.items()) + source)
    reuse = {}
    try:
        for flag, path in paths.items():
            if path:
                reuse[_PLACEHOLDERS[flag]] = _pinned_hash(flag, path)
    except BaseException:
        for kmap in reuse.values():
            kmap.close()
        raise
    return Prepared(source, defines, reuse)


def with_task_filter(source: str) -> str:
    """``source`` with the filter's maps and check declared after its includes, and the
    check made the first statement of every program."""
    pieces, at = [], 0
    for found in _SECTION.finditer(source):
        section = found.group(1)
        if section.startswith(".") or section in ("license", "version"):
            continue
        brace = source.find("{", found.end())
        if brace < 0 or ";" in source[found.end():brace]:
            raise ToolError(f"the task filter cannot find the body of the program in section {section!r}")
        pieces.append(source[at:brace + 1])
        pieces.append(" if (!tool_task_selected()) return 0;")
        at = brace + 1
    pieces.append(source[at:])
    filtered = "".join(pieces)
    head = _after_includes(filtered)
    return filtered[:head] + _FILTER_C + filtered[head:]


def _after_includes(source: str) -> int:
    """Where the lines after the leading ``#include``s (and blank lines) begin: the filter
    needs pybpf.h's helpers and types."""
    at = 0
    for line in source.splitlines(keepends=True):
        if line.startswith("#include") or not line.strip():
            at += len(line)
            continue
        break
    return at


def _pinned_hash(flag: str, path: str) -> Any:
    """The map pinned at ``path`` for ``--flag``, refused unless it is a hash map with u64 keys."""
    from pybpf.errors import PybpfError
    from pybpf.kernel.maps import open_pinned_map
    from pybpf.object.maps import MapType

    if not os.path.exists(path):
        raise ToolError(f"--{flag} {path}: no such file (pin a hash map there first, e.g. "
                        f"`bpftool map create {path} type hash key 8 value 8 entries 128 name {flag[:-3]}set`)")
    try:
        kmap = open_pinned_map(path)
    except PybpfError as exc:
        raise ToolError(f"--{flag} {path}: not a pinned BPF map ({exc})") from None
    spec = kmap.spec
    hashes = (MapType.HASH, MapType.LRU_HASH, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
    if spec.type not in hashes or spec.key_size != 8:
        kmap.close()
        raise ToolError(f"--{flag} {path}: a {spec.type} map with {spec.key_size}-byte keys; the filter "
                        "looks its u64 ids up in a hash map with 8-byte keys")
    return kmap
