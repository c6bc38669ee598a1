"""Hash maps whose lookups, updates and deletes compiled code does itself in a batch of
packets (hashmap.c, beside this module), with the vm HashMap's exact semantics.

The typical XDP program counts something per source address in a hash map: a lookup,
on a miss an update with BPF_NOEXIST, on a hit an atomic add. The array lookups and the
hash-value cache of :mod:`pybpf.vm.jit.lookups` answer the hits of up to a few cached
keys; a miss, an insert, a delete or a key past the cache went back to Python (tens of
microseconds each). Here the map's elements get native tables:

- its values move into one block of ``max_entries`` + 1 slots (a "slab"): the map's
  OrderedDict keeps its keys, in their order, but each value becomes a view of its slot,
  so Python (helpers, userspace) and compiled code read and write the same bytes, and
  the block is mapped for the whole batch as one region whose accesses stay inside one
  value;
- an index (key → slot) and a stack of free slots let the native functions find, insert
  and delete keys; each native insert or delete is logged, and the log is replayed into
  the OrderedDict (:meth:`NativeHash.drain`) before Python looks at the map: before every
  helper callback and at the end of every batch;
- what Python did to the map meanwhile (userspace between batches, a helper the native
  code could not do) is taken in by :meth:`NativeHash.sync`: new keys (appended to the
  OrderedDict) get slots; after a removal (the map's ``generation``) the tables are
  rebuilt from the OrderedDict.

Maps that qualify: HASH (not LRU, not per-CPU) with keys of 1 to :data:`MAX_KEY_SIZE`
bytes (a source address, a flow's 5-tuple) and at most :data:`MAX_ENTRIES` elements.
Keys and update values in the calling frame's stack or in the packet are reached by the
C code (:mod:`pybpf.vm.jit.mapcalls`); anything else — a key or value in a map value,
flags other than BPF_ANY/NOEXIST/EXIST, a full log — goes through the Python helper as
before.

An update of an existing key puts a new element in the old one's place, as the kernel
does (and the vm's HashMap): the spare slot takes the key, and the old slot becomes the
spare. Slots are reused as the kernel reuses a preallocated map's elements (a deleted
one by the next insert, a replaced one by the next replacement): a program still holding
a pointer to an old value may then see a new element's bytes, as in the kernel (the
interpreter keeps old values' buffers alive instead).
"""

from __future__ import annotations

import ctypes
import itertools
import os

from pybpf._once import once
from pybpf.vm.jit.abi import (
    D_BASE,
    D_COUNT,
    D_DELETE,
    D_EXTRA,
    D_FREE,
    D_INDEX,
    D_KEY_SIZE,
    D_KEY_STRIDE,
    D_KEYS,
    D_LOG,
    D_LOG_CAP,
    D_LOOKUP,
    D_MASK,
    D_MAX,
    D_NFREE,
    D_NLOG,
    D_SLAB,
    D_SLOTS,
    D_STRIDE,
    D_UPDATE,
    D_VALUE_SIZE,
)

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

#: the largest map given native tables (its index takes 32 bytes per element), and the
#: longest key
MAX_ENTRIES, MAX_KEY_SIZE = 1 << 16, 64
#: inserts and deletes logged between two looks from Python
LOG_CAPACITY = 4096
LOG_DELETE, LOG_REPLACE = 1 << 63, 1 << 62
_MASK64 = (1 << 64) - 1
_SYMBOLS = ("hash_lookup", "hash_update", "hash_delete")


@once
def _code() -> Any:
    """hashmap.c compiled (from the disk cache after the first time), or None."""
    from pybpf.vm.jit.native import c_library

    return c_library("hash", os.path.join(os.path.dirname(__file__), "hashmap.c"), _SYMBOLS, [__file__])


def native_hash(target: Any) -> NativeHash | None:
    """The native tables of map ``target`` (made on first use, then shared by every run
    that uses the map), or None where the map does not qualify or nothing compiles here."""
    from pybpf.object import MapType
    from pybpf.vm.maps import HashMap

    # (a value with a spin lock or timer: its copies skip them, which the helper does)
    if type(target) is not HashMap or target.type != MapType.HASH or target.ncpus != 1 or target.special \
            or not 1 <= target.key_size <= MAX_KEY_SIZE or not 1 <= target.max_entries <= MAX_ENTRIES:
        return None
    found = target.__dict__.get("native_hash")
    if found is None:
        code = _code()
        if code is None:
            return None
        found = target.__dict__["native_hash"] = NativeHash(target, code)
    return found


def key_hash(key: bytes) -> int:
    """hashmap.c's ``key_hash``: the key's little-endian 8-byte words, mixed in turn."""
    h = 0x9E37_79B9_7F4A_7C15 ^ len(key)
    for start in range(0, len(key), 8):
        h = ((h ^ int.from_bytes(key[start:start + 8], "little")) * 0xFF51_AFD7_ED55_8CCD) & _MASK64
        h ^= h >> 32
    return h


def _home(hash_: int, mask: int) -> int:
    """Where a key's probe starts in the index (hashmap.c's ``home``)."""
    return ((hash_ * 0x9E37_79B9_7F4A_7C15) & _MASK64) >> 32 & mask


class NativeHash:
    """One hash map's slab, index, free slots and log (see the module's documentation)."""

    def __init__(self, target: Any, code: Any):
        self.target, self._code = target, code
        self.key_size, self.value_size = target.key_size, target.value_size
        self.stride = (target.value_size + 7) & ~7
        self.key_stride = (target.key_size + 7) & ~7
        slots = target.max_entries
        self.keys = bytearray(self.key_stride * (slots + 1))
        #: a log record: the slot and what happened, then the key (u64 words)
        self._record = 1 + self.key_stride // 8
        self.slab = bytearray(self.stride * (slots + 1))
        self._slab_view = memoryview(self.slab)
        capacity = 1 << max((2 * slots - 1).bit_length(), 4)
        self.index = (ctypes.c_uint64 * (2 * capacity))()
        self.free = (ctypes.c_uint64 * slots)()
        self.log = (ctypes.c_uint64 * (self._record * LOG_CAPACITY))()
        self._log_bytes = memoryview(self.log).cast("B")
        d = self.descriptor = (ctypes.c_uint64 * D_SLOTS)()
        for slot, symbol in zip((D_LOOKUP, D_UPDATE, D_DELETE), _SYMBOLS):
            d[slot] = code.address(symbol)
        d[D_INDEX], d[D_MASK], d[D_MAX] = ctypes.addressof(self.index), capacity - 1, slots
        d[D_KEY_SIZE], d[D_VALUE_SIZE], d[D_STRIDE] = self.key_size, self.value_size, self.stride
        d[D_SLAB] = ctypes.addressof(ctypes.c_char.from_buffer(self.slab))
        d[D_KEYS], d[D_KEY_STRIDE] = ctypes.addressof(ctypes.c_char.from_buffer(self.keys)), self.key_stride
        d[D_FREE], d[D_LOG], d[D_LOG_CAP] = ctypes.addressof(self.free), ctypes.addressof(self.log), LOG_CAPACITY
        #: each key's slot, and the view of it the map holds (a value the map holds that is
        #: not its slot's view came from Python: it is moved into a slot)
        self._slots: dict[bytes, int] = {}
        self._views: dict[int, memoryview] = {}
        d[D_EXTRA], d[D_NFREE] = slots, slots       # the spare is the last slot; slot 0 is taken first
        for n in range(slots):
            self.free[n] = slots - 1 - n
        self._generation, self._count = -1, 0
        self.address = ctypes.addressof(d)

    def sync(self, base: int) -> None:
        """Before native code runs: the log replayed, what Python changed taken in, and
        the values' address in this run's memory (``base``)."""
        self.drain()
        target = self.target
        if target.generation != self._generation:
            self._reconcile()
        elif len(target.entries) != self._count:
            added = len(target.entries) - self._count
            for key in reversed(list(itertools.islice(reversed(target.entries), added))):
                self._adopt(key, target.entries[key])
            self._count = len(target.entries)
        self.descriptor[D_BASE] = base

    def drain(self) -> None:
        """Replay native inserts and deletes into the map's OrderedDict, in order."""
        d = self.descriptor
        logged = d[D_NLOG]
        if not logged:
            return
        target, log, size, words = self.target, self.log, self.key_size, self._record
        entries, raw = target.entries, self._log_bytes
        for n in range(logged):
            record = log[n * words]
            key = bytes(raw[(n * words + 1) * 8:(n * words + 1) * 8 + size])
            slot = record & ~(LOG_DELETE | LOG_REPLACE)
            if record & LOG_DELETE:
                del entries[key]
                self._views.pop(self._slots.pop(key), None)
                target.generation += 1
                continue
            if record & LOG_REPLACE:
                self._views.pop(self._slots[key], None)
                target.generation += 1
            entries[key] = self._view(slot)
            self._slots[key] = slot
        d[D_NLOG] = 0
        self._generation, self._count = target.generation, len(entries)

    def _view(self, slot: int) -> memoryview:
        view = self._views[slot] = self._slab_view[slot * self.stride:slot * self.stride + self.value_size]
        return view

    def _adopt(self, key: bytes, storage: Any) -> None:
        """A key Python inserted: its value moved into the free stack's top slot, the key
        indexed."""
        d = self.descriptor
        d[D_NFREE] -= 1
        self._move(key, self.free[d[D_NFREE]], storage)
        self._index(key, self._slots[key])
        d[D_COUNT] += 1

    def _move(self, key: bytes, slot: int, storage: Any) -> None:
        """The value of ``key`` copied into ``slot``, and the map given that slot's view."""
        view = self._view(slot)
        view[:] = bytes(storage)
        self.target.entries[key] = view     # (the same key: its place in the order is kept)
        self._slots[key] = slot

    def _index(self, key: bytes, slot: int) -> None:
        """``key`` in ``slot``'s key and in the index (a key not in it already)."""
        self.keys[slot * self.key_stride:slot * self.key_stride + self.key_size] = key
        hashed, mask = key_hash(key), self.descriptor[D_MASK]
        at = _home(hashed, mask)
        while self.index[2 * at + 1]:
            at = (at + 1) & mask
        self.index[2 * at], self.index[2 * at + 1] = hashed, slot + 1

    def _reconcile(self) -> None:
        """Take in what Python did to the map, removals and replacements included, as
        the kernel's map would have done it: a removed key's slot goes on top of the free
        stack, a replaced key takes the spare slot (its old one becomes the spare), a new
        key the free stack's top; then the index is made again."""
        target, d, free = self.target, self.descriptor, self.free
        entries = target.entries
        for key in [key for key in self._slots if key not in entries]:
            free[d[D_NFREE]] = self._slots.pop(key)
            self._views.pop(free[d[D_NFREE]], None)
            d[D_NFREE] += 1
        for key, storage in list(entries.items()):
            slot = self._slots.get(key)
            if slot is None:
                d[D_NFREE] -= 1
                self._move(key, free[d[D_NFREE]], storage)
            elif self._views.get(slot) is not storage:
                self._views.pop(slot, None)
                spare, d[D_EXTRA] = d[D_EXTRA], slot
                self._move(key, spare, storage)
        ctypes.memset(self.index, 0, ctypes.sizeof(self.index))
        for key, slot in self._slots.items():
            self._index(key, slot)
        d[D_COUNT] = len(entries)
        self._generation, self._count = target.generation, len(entries)
