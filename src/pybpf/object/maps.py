"""MapSpec: what a map is before an engine creates it.

A spec is plain data that either engine turns into a live map. ``key_type`` and
``value_type`` are optional and only shape how Python values are converted (see
:mod:`pybpf.engine.codec`): an ``int`` width, a ``struct`` format, a ctypes type, or
``bytes``; the kernel never sees them.
"""

from __future__ import annotations

from enum import Enum

from pybpf.object.errors import SpecError, check_name
from pybpf.object.kinds import MapFlag, MapType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field, replace
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field, replace

#: the kernel's BPF_OBJ_NAME_LEN, including the terminating NUL: longer names are cut to
#: fit when an object is created (as libbpf does), and keep their whole length here
NAME_LEN = 16

class Pinning(Enum):
    """Whether a map lives in bpffs under its name (libbpf's LIBBPF_PIN_BY_NAME)."""

    NONE = "none"
    BY_NAME = "by_name"


@dataclass
class MapSpec:
    """One map: the BPF_MAP_CREATE attributes plus how Python sees keys and values.

    ``extra`` is the kernel's ``map_extra`` (the bloom filter's number of hash functions).
    ``inner`` is the template of the maps an array/hash of maps holds. With
    ``pinning=Pinning.BY_NAME`` the kernel engine reuses the map pinned at
    ``<pin_path>/<name>`` when it is compatible and pins a new one otherwise.
    """

    name: str
    type: MapType
    key_size: int = 0
    value_size: int = 0
    max_entries: int = 0
    flags: int = 0
    extra: int = 0
    key_type: Any = None
    value_type: Any = None
    inner: MapSpec | None = None
    pinning: Pinning = Pinning.NONE
    pin_path: str = "/sys/fs/bpf"
    numa_node: int | None = None
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    #: the BTF blob the two ids above index (the object's, fixed up for the kernel); the
    #: kernel engine loads it and creates the map with it, the vm ignores it
    btf: bytes | None = field(default=None, repr=False)
    #: initial value of element 0 of an array map (global variables of an ELF object)
    contents: bytes | None = None
    #: freeze the map after writing ``contents`` (``.rodata``: constant for userspace too)
    freeze: bool = False

    def __post_init__(self) -> None:
        try:
            self.type = MapType.parse(self.type)
        except ValueError as exc:
            raise SpecError(f"map {self.name!r}: {exc}") from None

    def copy(self, **changes: Any) -> MapSpec:
        """A modified copy (specs are edited before loading, never while loaded)."""
        return replace(self, **changes)

    def check(self) -> MapSpec:
        """Raise :class:`SpecError` for attributes no kernel accepts; return self."""
        where = f"map {self.name!r}"
        check_name(where, self.name)
        for attr in ("key_size", "value_size", "max_entries", "flags", "extra"):
            if getattr(self, attr) < 0:
                raise SpecError(f"{where}: {attr} must not be negative")
        kind = self.type
        if kind.keyless and self.key_size:
            raise SpecError(f"{where}: a {kind} map has no key, so key_size must be 0")
        if kind in (MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY,
                    MapType.ARRAY_OF_MAPS, MapType.PERF_EVENT_ARRAY) and self.key_size != 4:
            raise SpecError(f"{where}: a {kind} map's keys are 4-byte indexes (key_size 4)")
        if kind.holds_fds and kind not in (MapType.PERF_EVENT_ARRAY,) and self.value_size != 4:
            raise SpecError(f"{where}: a {kind} map's values are 4-byte fds (value_size 4)")
        if kind == MapType.LPM_TRIE:
            if self.key_size <= 4:
                raise SpecError(f"{where}: an LPM trie key is a 4-byte prefix length "
                                "plus data, so key_size must be more than 4")
            if not self.flags & MapFlag.NO_PREALLOC:
                raise SpecError(f"{where}: an LPM trie needs flags=MapFlag.NO_PREALLOC")
        if kind in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            if self.inner is None:
                raise SpecError(f"{where}: a {kind} map needs an inner map spec")
            self.inner.check()
        elif self.inner is not None:
            raise SpecError(f"{where}: only array/hash of maps have an inner map spec")
        if kind == MapType.RINGBUF:
            size = self.max_entries
            if size < 4096 or size & (size - 1) or self.value_size:
                raise SpecError(f"{where}: a ring buffer's max_entries is its size in bytes, "
                                "a power of 2 of at least one page, and value_size is 0")
        if self.contents is not None and (kind != MapType.ARRAY or len(self.contents) != self.value_size):
            raise SpecError(f"{where}: initial contents are for array maps and must be value_size "
                            f"({self.value_size}) bytes, got {len(self.contents)}")
        if kind == MapType.STACK_TRACE and (self.value_size == 0 or self.value_size % 8):
            raise SpecError(f"{where}: stack trace values are arrays of 8-byte addresses")
        return self

    def compatible(self, other: MapSpec) -> str | None:
        """Why a map made from ``other`` cannot stand in for this spec; None when it can."""
        for attr in ("type", "key_size", "value_size", "max_entries", "flags"):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            if mine != theirs:
                return f"{attr} is {theirs}, the spec says {mine}"
        return None


