"""bpf() calls on file descriptors, below the classes that own them: create a map's fd
(:func:`create_fd`), pin an fd (:func:`pin_fd`), open a pinned object's (:func:`get_pinned_fd`).

:mod:`pybpf.kernel.maps`, :mod:`~pybpf.kernel.programs` and :mod:`~pybpf.kernel.link`
build on these; so does the kernel engine's check that bpf() is permitted (a tiny map,
closed at once), which therefore needs neither :class:`~pybpf.kernel.maps.KernelMap` nor
the shared Map API and its codecs: a program without maps (``pybpf run x.bin``, ``pybpf
replay``) is loaded and run without them (~2 ms of its start-up).
"""

from __future__ import annotations

import ctypes
import errno
import os

from pybpf.errors import BPFError
from pybpf.kernel import attrs
from pybpf.kernel.syscall import Command, bpf, cstring
from pybpf.object import MapFlag, MapType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.object import MapSpec


def pin_fd(fd: int, path: str, target: str) -> None:
    """BPF_OBJ_PIN ``fd`` at ``path`` (bpffs mounted at /sys/fs/bpf first if the path is
    under it and it is not mounted yet, as bpftool does: :mod:`pybpf.kernel.bpffs`)."""
    from pybpf.kernel.bpffs import mount_for_pin

    mount_for_pin(path)
    name = cstring(os.fsencode(path))
    bpf(Command.OBJ_PIN, attrs.ObjPinAttr(pathname=ctypes.addressof(name), bpf_fd=fd),
        f"{target} at {path}")


def get_pinned_fd(path: str) -> int:
    """BPF_OBJ_GET: a new fd for the object pinned at ``path``."""
    name = cstring(os.fsencode(path))
    return bpf(Command.OBJ_GET, attrs.ObjPinAttr(pathname=ctypes.addressof(name)), path)


#: map types the kernel takes no key/value BTF for (libbpf leaves it off them too)
_NO_BTF = {MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS,
           MapType.HASH_OF_MAPS, MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP,
           MapType.SOCKMAP, MapType.SOCKHASH, MapType.QUEUE, MapType.STACK}


def create_fd(spec: MapSpec, inner_fd: int = 0, btf_fd: int = 0) -> int:
    """BPF_MAP_CREATE for ``spec``; returns the new map's fd.

    With ``btf_fd`` (the loaded BTF ``spec.btf_key/value_type_id`` index) the kernel
    learns the key and value types (bpftool shows them); a kernel that refuses them gets
    the map without, as libbpf retries.
    """
    attr = attrs.MapCreateAttr(
        map_type=spec.type, key_size=spec.key_size, value_size=spec.value_size,
        max_entries=spec.max_entries, map_flags=spec.flags, inner_map_fd=inner_fd,
        map_name=spec.name.encode()[:15], map_extra=spec.extra)
    if spec.numa_node is not None:
        attr.numa_node = spec.numa_node
        attr.map_flags |= MapFlag.NUMA_NODE
    hint = (f"this kernel refuses a {spec.type} map with key_size {spec.key_size}, "
            f"value_size {spec.value_size}, max_entries {spec.max_entries}, flags "
            f"{attr.map_flags:#x}, map_extra {spec.extra}: check what this map type needs")
    target = f"map {spec.name!r} ({spec.type})"
    if (spec.btf_key_type_id or spec.btf_value_type_id) and spec.type not in _NO_BTF \
            and (btf_fd or spec.btf is None):
        attr.btf_fd = btf_fd
        attr.btf_key_type_id, attr.btf_value_type_id = spec.btf_key_type_id, spec.btf_value_type_id
        if btf_fd:
            try:
                return bpf(Command.MAP_CREATE, attr, target, {errno.EINVAL: hint})
            except BPFError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
            attr.btf_fd = attr.btf_key_type_id = attr.btf_value_type_id = 0
    return bpf(Command.MAP_CREATE, attr, target, {errno.EINVAL: hint})
