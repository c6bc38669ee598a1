"""Map lookups that compiled code answers without calling back into Python.

A batch of packets (:meth:`pybpf.vm.jit.runtime.EngineRun.packets`) calls
``bpf_map_lookup_elem`` once or twice per packet; through the helper callback each call
costs tens of microseconds, against nanoseconds for the program itself. This table
(the state's S_LOOKUPS, read by the translator's ``bpf_lookup``) lets the code answer:

- ARRAY / PERCPU_ARRAY: the map keeps each CPU's values in one block
  (:class:`pybpf.vm.maps.ArrayMap`); the run's CPU's block is mapped once, for the whole
  batch, as one region whose accesses must stay inside one value, so a lookup is
  ``base + index * stride``, or NULL for an index past the end — userspace's writes land
  in the same block, so they are seen by the next packet.
- HASH with keys of up to :data:`pybpf.vm.jit.hashes.MAX_KEY_SIZE` bytes and at most
  :data:`pybpf.vm.jit.hashes.MAX_ENTRIES` elements: the map's native tables
  (:mod:`pybpf.vm.jit.hashes`; its values mapped once, as one region): hits, misses,
  updates and deletes are answered natively;
- other HASH / PERCPU_HASH with keys of 1 to 8 bytes: a cache of (key, value address) pairs,
  filled by the lookups the callback answers (the value mapped once for the batch). A
  value's buffer stays the key's until the map removes an element (its ``generation``);
  then the map's cache is emptied. Misses, inserts and every other map go through Python.

Values reached through the table have addresses of their own (from LOOKUP_BASE up), not
the per-run dynamic addresses the helper gives; both reach the same bytes.
"""

from __future__ import annotations

import ctypes

from pybpf.vm.constants import MAP_HANDLE_BASE
from pybpf.vm.jit import abi as t
from pybpf.vm.jit.hashes import NativeHash, native_hash

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

#: where values mapped for the whole batch are placed (far from the dynamic addresses
#: that start again with every packet, and below the stacks)
LOOKUP_BASE = 0x0000_4000_0000_0000
#: cached hash values per map, and the regions the batch may hold before caching stops
CACHE_PAIRS = 16
REGION_ROOM = t.MAX_REGIONS - 8


class NativeLookups:
    """The lookup table of one engine run's batches (``run``: its :class:`_Run`)."""

    def __init__(self, run: Any, maps: dict[int, Any]):
        from pybpf.vm.maps import ArrayMap, HashMap

        self._run = run
        self._next = LOOKUP_BASE
        entries: list[tuple[int, ...]] = []
        #: per cached map: its handle → (map, entry index, pairs array, generation seen)
        self._caches: dict[int, list[Any]] = {}
        #: the regions of each map's cached values, and those of caches emptied since the
        #: last packet began (a packet that still holds one of their values may use it)
        self._cached: dict[int, list[Any]] = {}
        self._stale: list[Any] = []
        #: the maps with native tables, and where this run's memory has their values
        self._hashes: list[tuple[NativeHash, int]] = []
        for imm, target in sorted(maps.items()):
            handle = MAP_HANDLE_BASE + imm
            if isinstance(target, ArrayMap) and target.blocks and target.key_size == 4:
                block = target.blocks[run.cpu % len(target.blocks)]
                base = self._map(block, f"values of map {target.name!r}",
                                 (target.element_stride, target.value_size))
                entries.append((handle, t.K_ARRAY, 4, target.max_entries, base, target.element_stride))
            elif (native := native_hash(target)) is not None:
                base = self._map(native.slab, f"values of map {target.name!r}", (native.stride, target.value_size))
                self._hashes.append((native, base))
                entries.append((handle, t.K_HASH, target.key_size, 0, native.address, 0))
            elif type(target) is HashMap and not target.lru and 1 <= target.key_size <= 8:
                pairs = (ctypes.c_uint64 * (2 * CACHE_PAIRS))()
                self._caches[handle] = [target, len(entries), pairs, target.generation]
                entries.append((handle, t.K_CACHE, target.key_size, 0, ctypes.addressof(pairs), 0))
        self.table = (ctypes.c_uint64 * max(len(entries) * t.LOOKUP_SLOTS, 1))(*[v for e in entries for v in e])
        self.count = len(entries)

    def install(self, state: Any) -> None:
        """Point the state at the table (after emptying caches of maps that lost elements:
        userspace's deletes between batches, or a helper's during one), and with the
        native hash maps' tables in step with what Python did to the maps."""
        for native, base in self._hashes:
            native.sync(base)
        for cache in self._caches.values():
            target, entry, _, seen = cache
            if target.generation != seen:
                self.table[entry * t.LOOKUP_SLOTS + 3] = 0
                cache[3] = target.generation
                self._stale += self._cached.pop(self.table[entry * t.LOOKUP_SLOTS], [])
        state[t.S_LOOKUPS], state[t.S_NLOOKUPS] = ctypes.addressof(self.table), self.count

    def drain(self) -> None:
        """Before Python looks at the maps (a helper, the end of a batch): the native
        hash maps' inserts and deletes replayed into them."""
        for native, _ in self._hashes:
            native.drain()

    def lookup(self, handle: int | None, key: int | None) -> int:
        """bpf_map_lookup_elem where the table could not answer: the helper's answer, and
        a hash value found is cached (mapped for the batch) while there is room."""
        from pybpf.vm.helpers.maps import map_lookup_elem, value_pointer
        from pybpf.vm.helpers.operands import charge_copy, map_operand

        if handle is None or key is None or handle not in self._caches:
            return map_lookup_elem(self._run, handle, key)   # (its errors for unset registers)
        cache = self._caches[handle]
        run, target = self._run, map_operand(self._run, handle)
        charge_copy(run, target.key_size)
        key_bytes = run.memory.read_bytes(key, target.key_size)
        buffer = target.value_buffer(key_bytes, run.cpu)
        if buffer is None:
            return 0
        _, entry, pairs, _ = cache
        used = self.table[entry * t.LOOKUP_SLOTS + 3]
        if used >= CACHE_PAIRS or len(run._fresh[0]) >= REGION_ROOM:
            return value_pointer(run, buffer, f"value in map {target.name!r}")
        address = self._map(buffer, f"value in map {target.name!r}", None)
        self._cached.setdefault(handle, []).append(run._memory.regions[0])
        pairs[2 * used], pairs[2 * used + 1] = int.from_bytes(key_bytes, "little"), address
        self.table[entry * t.LOOKUP_SLOTS + 3] = used + 1
        return address

    def release_stale(self) -> bool:
        """At a new packet: unmap the values of emptied caches from the memory packets
        start from (no packet can reach them any more: the caches no longer give them);
        whether there were any."""
        if not self._stale:
            return False
        gone = {id(region) for region in self._stale}
        self._stale = []
        regions, dynamic = self._run._fresh
        self._run._fresh = ([r for r in regions if id(r) not in gone], dynamic)
        return True

    def _map(self, data: Any, name: str, element: tuple[int, int] | None) -> int:
        """Map ``data`` for every packet of the batch (into the memory a packet starts from)."""
        run, base = self._run, self._next
        self._next += (len(data) + 0xFFF) & ~0xFFF or 0x1000
        memory = run._memory
        memory.map(data, writable=True, name=name, base=base)
        region = memory.regions[0]
        region.element = element
        if run._fresh is not None:
            regions, dynamic = run._fresh
            run._fresh = ([region, *regions], dynamic)
        return base
