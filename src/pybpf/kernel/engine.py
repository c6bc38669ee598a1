"""The kernel engine's entry points for :func:`pybpf.engine.load`.

``available()`` asks the kernel once (a tiny BPF_MAP_CREATE) whether bpf() is permitted;
``load_collection()`` creates the maps (reusing compatible pinned ones for
``Pinning.BY_NAME``), loads the BTF that maps and programs carry (once per distinct blob:
an ELF object's maps and programs share one), and loads the programs with their map
references resolved to fds and their func/line info. A failure part-way closes what was
made.

A kernel that refuses a BTF blob gets the maps and programs without it (as libbpf
does): they work the same, but the kernel cannot name source lines or key/value types.
"""

from __future__ import annotations

import errno
import os
from functools import cache

from pybpf.engine.collection import Collection
from pybpf.errors import BPFError
from pybpf.kernel.fds import create_fd
from pybpf.kernel.programs import LOG_SIZE, KernelProgram, load_program
from pybpf.object import CollectionSpec, MapSpec, MapType, Pinning

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from pybpf.kernel.maps import KernelMap


@cache
def available() -> str | None:
    """None when this process may use bpf(), else why not (asked once per process)."""
    try:
        fd = create_fd(MapSpec("pybpf_probe", MapType.ARRAY, 4, 4, 1))
    except BPFError as exc:
        return str(exc)
    os.close(fd)
    return None




class _BtfFds:
    """The BTF blobs of one load, each loaded once; closed when the load is done (maps
    and programs keep their own references in the kernel)."""

    def __init__(self) -> None:
        self.fds: dict[bytes, int] = {}

    def fd(self, blob: bytes | None, user: str) -> int:
        """The fd of ``blob`` (0 for none, or when the kernel refused it)."""
        if blob is None:
            return 0
        if blob not in self.fds:
            from pybpf.kernel.btf import load_btf  # (for maps and programs that carry BTF)

            try:
                self.fds[blob] = load_btf(blob)
            except BPFError as exc:
                import logging  # only to say so (~4 ms of a start-up otherwise)

                logging.getLogger(__name__).warning("%s: the kernel refused its BTF (%s); loading without it", user, exc)
                self.fds[blob] = 0
        return self.fds[blob]

    def close(self) -> None:
        for fd in self.fds.values():
            if fd:
                os.close(fd)
        self.fds.clear()


def _pinned_or_created(spec: MapSpec, btf_fd: int = 0) -> KernelMap:
    """The map for ``spec``: the compatible one pinned under its name, or a new one.
    (:mod:`pybpf.kernel.maps`, with the shared Map API and its codecs, is imported for a
    collection with maps only.)"""
    from pybpf.kernel.maps import create_map, open_pinned_map

    if spec.pinning != Pinning.BY_NAME:
        return _initialized(create_map(spec, btf_fd))
    path = os.path.join(spec.pin_path, spec.name)
    try:
        found = open_pinned_map(path, spec.key_type, spec.value_type)
    except BPFError as exc:
        if exc.errno != errno.ENOENT:
            raise
    else:
        why = spec.compatible(found.spec)
        if why is None:
            return found
        found.close()
        raise BPFError("BPF_OBJ_GET", errno.EINVAL, f"the map pinned at {path} does not "
                       f"match the spec: {why}", f"map {spec.name!r}")
    made = _initialized(create_map(spec, btf_fd))
    try:
        made.pin(path)
    except BaseException:
        made.close()
        raise
    return made


def _initialized(made: KernelMap) -> KernelMap:
    """Write a spec's initial contents (global variables) and freeze it if asked."""
    spec = made.spec
    try:
        if spec.contents is not None:
            made._update(bytes(4), spec.contents, 0)
        if spec.freeze:
            made.freeze()
    except BaseException:
        made.close()
        raise
    return made


#: the map <bpf/usdt.bpf.h> declares for the argument specs of USDT sites (pybpf.usdt.specs),
#: by its kernel name (``__bpf_usdt_specs`` cut to 15 bytes)
USDT_SPECS = "__bpf_usdt_spec"


def load_collection(spec: CollectionSpec, log_level: int = 0,
                    log_size: int = LOG_SIZE, grow_log: bool = True,
                    reuse: Mapping[str, KernelMap] | None = None) -> Collection:
    """Create every map and load every program of ``spec`` in the kernel (the log
    options as :func:`~pybpf.kernel.programs.load_program`'s). ``reuse`` names maps
    already in the kernel (e.g. opened from a pin) that the programs use instead of
    creating the spec's map of that name, as libbpf's ``bpf_map__reuse_fd``; the
    collection owns them then (closing it closes them)."""
    maps: dict[str, KernelMap] = {}
    programs: dict[str, KernelProgram] = {}
    collection = Collection("kernel", maps, programs)  # type: ignore[arg-type]
    btf = _BtfFds()
    try:
        for name, map_spec in spec.maps.items():
            given = (reuse or {}).get(name)
            maps[name] = given if given is not None else _pinned_or_created(map_spec, btf.fd(map_spec.btf, f"map {name!r}"))
        for name, prog_spec in spec.programs.items():
            blob = prog_spec.btf.btf if prog_spec.btf is not None else None
            programs[name] = load_program(prog_spec, lambda m: maps[m].fd, log_level=log_level,
                                          log_size=log_size, btf_fd=btf.fd(blob, f"program {name!r}"),
                                          grow_log=grow_log)
            if USDT_SPECS in prog_spec.references.values():
                programs[name].usdt_specs = maps[USDT_SPECS]
    except BaseException:
        collection.close()
        for name, given in (reuse or {}).items():
            if maps.get(name) is not given:
                given.close()
        raise
    finally:
        btf.close()
    return collection
