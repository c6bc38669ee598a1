"""The vm engine's maps: every common map type in userspace, with the kernel's semantics
and errors, behind the same :class:`pybpf.engine.Map` API as the kernel's maps.

Values live in ``bytearray`` objects that stay the same while an element exists, so a
program's ``bpf_map_lookup_elem`` can hand out a pointer into one (a memory region)
exactly as the kernel hands out a pointer into the map. Per-CPU maps keep one buffer per
CPU; userspace sees them concatenated (each padded to 8 bytes), as from the kernel.
"""

from __future__ import annotations

import errno
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator

from pybpf._digest import blake2b
from pybpf.engine import BPFError, Map, possible_cpus
from pybpf.engine.map import UpdateFlag
from pybpf.object import MapFlag, MapSpec, MapType
from pybpf.verifier import map_info
from pybpf.vm.locking import SPIN_LOCK
from pybpf.vm.objects import OBJECTS, new_id

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from pybpf.engine.events import EventSource

class VmMap(Map):
    """Common ground: ids, errors, per-CPU layout."""

    def __init__(self, spec: MapSpec, cpus: int | None = None):
        self._cpus = cpus or possible_cpus()
        super().__init__(spec)
        self._id = new_id(self)
        self.ncpus = self._cpus if spec.type.per_cpu else 1
        self.stride = (spec.value_size + 7) & ~7 if spec.type.per_cpu else spec.value_size
        self.frozen = False
        info = map_info(0, spec) if spec.btf is not None and spec.btf_value_type_id > 0 else None
        fields = info.fields() if info is not None else ()
        #: whether the map was made without its BTF: the kernel refuses (EOPNOTSUPP) a
        #: spin lock or timer in other map types, and the kernel engine, as libbpf, then
        #: creates the map without BTF (the fields are plain bytes, and the verifier refuses
        #: programs that lock or arm them)
        self.btf_dropped = any(spec.type not in (_SPIN_LOCK_TYPES if name == "bpf_spin_lock" else _TIMER_TYPES)
                               for name, _, _ in fields)
        if self.btf_dropped:
            fields = ()
        #: the offsets of the value's ``struct bpf_spin_lock`` and ``struct bpf_timer`` (-1: none)
        self.spin_lock = next((off for name, off, _ in fields if name == "bpf_spin_lock"), -1)
        self.timer = next((off for name, off, _ in fields if name == "bpf_timer"), -1)
        #: (offset, size) of those fields: the kernel's copies of values skip them, and
        #: userspace reads them as zero
        self.special: tuple[tuple[int, int], ...] = tuple((off, size) for _, off, size in fields)

    @property
    def id(self) -> int:
        return self._id

    def _update_flags(self, flags: int) -> tuple[int, bool]:
        """An update's BPF_ANY/NOEXIST/EXIST and whether it said BPF_F_LOCK (EINVAL for
        other bits, and for BPF_F_LOCK on a value without a spin lock, as the kernel)."""
        locked = bool(flags & UpdateFlag.LOCK)
        base = flags & ~UpdateFlag.LOCK
        if base > UpdateFlag.EXIST:
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.EINVAL, f"unknown update flags 0x{flags:x}")
        if locked and self.spin_lock < 0:
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.EINVAL,
                              "BPF_F_LOCK needs a value with a struct bpf_spin_lock (in the map's BTF)")
        return base, locked

    def _lookup_flags(self, key: bytes, flags: int) -> bytes | None:
        """A lookup with BPF_F_LOCK: the value copied under its spin lock (EINVAL for other
        flags, and for a value without a spin lock, as the kernel)."""
        if flags & ~UpdateFlag.LOCK:
            raise self._error("BPF_MAP_LOOKUP_ELEM", errno.EINVAL, f"unknown lookup flags 0x{flags:x}")
        if self.spin_lock < 0:
            raise self._error("BPF_MAP_LOOKUP_ELEM", errno.EINVAL,
                              "BPF_F_LOCK needs a value with a struct bpf_spin_lock (in the map's BTF)")
        with SPIN_LOCK:
            return self._lookup(key)

    def _kept(self, value: bytes, old: Any = None) -> bytes:
        """``value`` as the kernel copies it into the map: its special fields (spin lock,
        timer) are not copied — zero in the element (the vm's lock bytes are never
        set: :mod:`pybpf.vm.locking`), except the timer of ``old`` where the element keeps
        it (a hash element updated in place with BPF_F_LOCK); elsewhere the kernel frees
        the element's timer (an array element's update, a hash element replaced)."""
        if not self.special:
            return value
        merged = bytearray(value[:self.value_size])
        for off, size in self.special:
            keep = old is not None and off == self.timer
            merged[off:off + size] = bytes(old[off:off + size]) if keep else bytes(size)
        return bytes(merged)

    def _shown(self, data: bytes) -> bytes:
        """A value as userspace reads it: the special fields zero, as the kernel copies out."""
        return self._kept(data) if self.special else data

    def cpu_count(self) -> int:
        """The CPU count this vm map was made for."""
        return self._cpus

    def _close(self) -> None:
        OBJECTS.pop(self._id, None)

    def _error(self, command: str, code: int, hint: str) -> BPFError:
        return BPFError(command, code, hint, f"map {self.name!r}")

    def _new_value(self, data: bytes | None = None) -> Any:
        """Storage for one element: a buffer, or one per CPU."""
        if self.ncpus == 1 and not self.type.per_cpu:
            return bytearray(data) if data is not None else bytearray(self.value_size)
        if data is None:
            return [bytearray(self.value_size) for _ in range(self.ncpus)]
        return [bytearray(data[i * self.stride:i * self.stride + self.value_size]) for i in range(self.ncpus)]

    def _assign(self, storage: Any, data: bytes) -> None:
        if isinstance(storage, list):
            for i, buf in enumerate(storage):
                buf[:] = data[i * self.stride:i * self.stride + self.value_size]
        else:
            storage[:] = data

    def _bytes(self, storage: Any) -> bytes:
        if isinstance(storage, list):
            pad = bytes(self.stride - self.value_size)
            return b"".join(bytes(buf) + pad for buf in storage)
        return bytes(storage)

    def _check_writable(self) -> None:
        if self.frozen:
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.EPERM, "the map is frozen: userspace may not change it")

    def freeze(self) -> None:
        """Make the map read-only for userspace (programs may still write, as in the kernel)."""
        self.frozen = True

    def value_buffer(self, key: bytes, cpu: int = 0) -> bytearray | None:
        """The buffer a program's lookup of ``key`` points into (on ``cpu``), or None."""
        storage = self._storage(key)
        if storage is None:
            return None
        return storage[cpu % len(storage)] if isinstance(storage, list) else storage

    def _storage(self, key: bytes) -> Any:
        raise NotImplementedError

    # helper-side operations, with the kernel's return codes
    def helper_update(self, key: bytes, value: bytes, flags: int, cpu: int = 0) -> int:
        """bpf_map_update_elem from a program: 0 or -errno. In a per-CPU map a program's
        value fills only its CPU's slot: the other slots keep their values, or are zero in
        a new element (as the kernel does)."""
        try:
            if self.type.per_cpu:
                storage = self._storage(key)
                slots = [bytes(buf) for buf in storage] if isinstance(storage, list) else [bytes(self.value_size)] * self.ncpus
                slots[cpu % self.ncpus] = value[:self.value_size]
                value = b"".join(slot.ljust(self.stride, b"\0") for slot in slots)
            was_frozen, self.frozen = self.frozen, False
            try:
                self._update(key, value, flags)
            finally:
                self.frozen = was_frozen
        except BPFError as exc:
            return -exc.errno
        return 0

    def helper_delete(self, key: bytes) -> int:
        """bpf_map_delete_elem from a program: 0 or -errno."""
        try:
            return 0 if self._delete(key) else -errno.ENOENT
        except BPFError as exc:
            return -exc.errno


class ArrayMap(VmMap):
    """array and percpu_array: every index exists, zero-filled."""

    def __init__(self, spec: MapSpec, cpus: int | None = None):
        super().__init__(spec, cpus)
        #: ARRAY and PERCPU_ARRAY: one block of values per CPU (values padded to 8 bytes, as
        #: the kernel lays out an mmap-able array), each value a view into its CPU's block —
        #: what lets the JIT compute a lookup's address natively (pybpf.vm.jit.lookups)
        self.blocks: list[bytearray] = []
        #: each index's storage (a value, or one per CPU; FD arrays: an object's handle)
        self.slots: list[Any]
        if spec.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            self.element_stride = (spec.value_size + 7) & ~7
            self.blocks = [bytearray(self.element_stride * spec.max_entries) for _ in range(self.ncpus)]
            views = [memoryview(block) for block in self.blocks]
            values = [[view[i * self.element_stride:i * self.element_stride + spec.value_size] for view in views]
                      for i in range(spec.max_entries)]
            self.slots = values if spec.type.per_cpu else [per_cpu[0] for per_cpu in values]
        else:
            self.slots = [self._new_value() for _ in range(spec.max_entries)]

    @property
    def block(self) -> bytearray | None:
        """The one block of a MapFlag.MMAPABLE array (None for other maps)."""
        mmapable = self.type == MapType.ARRAY and self.flags & MapFlag.MMAPABLE
        return self.blocks[0] if mmapable else None

    def memory(self) -> memoryview:
        """The values of a MapFlag.MMAPABLE array as one writable memoryview, like the
        kernel engine's mmap of the map (shared with programs)."""
        if self.block is None:
            raise self._error("mmap", errno.EINVAL, "only arrays created with MapFlag.MMAPABLE can be mapped")
        return memoryview(self.block)

    def _index(self, key: bytes) -> int:
        return int.from_bytes(key[:4], "little")

    def _storage(self, key: bytes) -> Any:
        index = self._index(key)
        return self.slots[index] if index < len(self.slots) else None

    def _lookup(self, key: bytes) -> bytes | None:
        storage = self._storage(key)
        return None if storage is None else self._shown(self._bytes(storage))

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        self._check_writable()
        flags, locked = self._update_flags(flags)
        index = self._index(key)
        if index >= len(self.slots):
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.E2BIG,
                              f"index {index} is past the array's {len(self.slots)} entries")
        if flags == UpdateFlag.NOEXIST:
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.EEXIST, "array elements always exist (BPF_NOEXIST)")
        if locked:
            with SPIN_LOCK:
                self._assign(self.slots[index], self._kept(value))
        else:
            self._assign(self.slots[index], self._kept(value))

    def _delete(self, key: bytes) -> bool:
        raise self._error("BPF_MAP_DELETE_ELEM", errno.EINVAL, "array elements cannot be deleted")

    def _next_key(self, key: bytes | None) -> bytes | None:
        index = 0 if key is None else self._index(key) + 1
        return index.to_bytes(4, "little") if index < len(self.slots) else None


#: the map types whose values may hold a struct bpf_spin_lock, and a struct bpf_timer
#: (the kernel's map_check_btf; the storage maps are not vm maps)
_SPIN_LOCK_TYPES = frozenset({MapType.HASH, MapType.ARRAY})
_TIMER_TYPES = frozenset({MapType.HASH, MapType.LRU_HASH, MapType.ARRAY})

#: hash maps whose update of an existing key puts a new element in the old one's place,
#: as the kernel's htab_map_update_elem does (a program's pointer to the old value no
#: longer reaches the map); per-CPU hash maps copy into the existing element
_REPLACED = frozenset({MapType.HASH, MapType.LRU_HASH})


class HashMap(VmMap):
    """hash, percpu_hash, and (with ``lru``) lru_hash / lru_percpu_hash."""

    def __init__(self, spec: MapSpec, cpus: int | None = None, lru: bool = False):
        super().__init__(spec, cpus)
        self.lru = lru
        self.entries: OrderedDict[bytes, Any] = OrderedDict()
        #: counts removals (delete, LRU eviction) and replaced elements: a value buffer
        #: found for a key stays the key's while this is unchanged (the JIT's lookup cache
        #: checks it)
        self.generation = 0

    def _storage(self, key: bytes) -> Any:
        return self.entries.get(bytes(key))

    def value_buffer(self, key: bytes, cpu: int = 0) -> bytearray | None:
        """A program's lookup also counts as a use for LRU eviction (userspace's does not,
        as in the kernel)."""
        if self.lru and bytes(key) in self.entries:
            self.entries.move_to_end(bytes(key))
        return super().value_buffer(key, cpu)

    def _lookup(self, key: bytes) -> bytes | None:
        storage = self._storage(key)
        return None if storage is None else self._shown(self._bytes(storage))

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        self._check_writable()
        flags, locked = self._update_flags(flags)
        key = bytes(key)
        exists = key in self.entries
        if flags == UpdateFlag.NOEXIST and exists:
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.EEXIST, "the key exists (the update said BPF_NOEXIST)")
        if flags == UpdateFlag.EXIST and not exists:
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.ENOENT, "the key is not in the map (the update said BPF_EXIST)")
        if exists and locked:                   # BPF_F_LOCK: copied into the element, under its lock
            with SPIN_LOCK:
                self._assign(self.entries[key], self._kept(value, self.entries[key]))
            return
        value = self._kept(value)
        if exists:
            if self.type in _REPLACED:          # a new element takes the key's place
                self.entries[key] = self._new_value(value)
                self.generation += 1
            else:
                self._assign(self.entries[key], value)
            if self.lru:
                self.entries.move_to_end(key)
            return
        if len(self.entries) >= self.max_entries:
            if not self.lru:
                raise self._error("BPF_MAP_UPDATE_ELEM", errno.E2BIG, f"the map is full (max_entries {self.max_entries})")
            self.entries.popitem(last=False)
            self.generation += 1
        self.entries[key] = self._new_value(value)

    def _delete(self, key: bytes) -> bool:
        self._check_writable()
        self.generation += 1
        return self.entries.pop(bytes(key), None) is not None

    def _next_key(self, key: bytes | None) -> bytes | None:
        keys = list(self.entries)
        if key is None or bytes(key) not in self.entries:
            return keys[0] if keys else None
        position = keys.index(bytes(key)) + 1
        return keys[position] if position < len(keys) else None


class LpmTrieMap(HashMap):
    """lpm_trie: keys are a u32 prefix length and data; lookups find the longest match."""

    def _prefix(self, key: bytes) -> tuple[int, int]:
        bits = int.from_bytes(key[:4], "little")
        return bits, int.from_bytes(key[4:], "big")

    def _match(self, key: bytes) -> bytes | None:
        want_bits, want = self._prefix(key)
        width = 8 * (self.key_size - 4)
        best: tuple[int, bytes] | None = None
        for stored in self.entries:
            bits, data = self._prefix(stored)
            if bits <= want_bits and (want >> (width - bits) if bits else 0) == (data >> (width - bits) if bits else 0):
                if best is None or bits > best[0]:
                    best = (bits, stored)
        return None if best is None else best[1]

    def _storage(self, key: bytes) -> Any:
        match = self._match(key)
        return None if match is None else self.entries[match]

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        bits, _ = self._prefix(key)
        if bits > 8 * (self.key_size - 4):
            raise self._error("BPF_MAP_UPDATE_ELEM", errno.EINVAL,
                              f"prefix length {bits} is longer than the key's {8 * (self.key_size - 4)} bits")
        super()._update(key, value, flags)


class QueueMap(VmMap):
    """queue (first in, first out) and stack (last in, first out)."""

    def __init__(self, spec: MapSpec, cpus: int | None = None):
        super().__init__(spec, cpus)
        self.items: deque[bytes] = deque()
        self.lifo = spec.type == MapType.STACK

    def _lookup(self, key: bytes) -> bytes | None:
        return None

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        self._push(value, flags)

    def _delete(self, key: bytes) -> bool:
        raise self._error("BPF_MAP_DELETE_ELEM", errno.EINVAL, "queues and stacks have no keys to delete")

    def _next_key(self, key: bytes | None) -> bytes | None:
        return None

    def _push(self, value: bytes, flags: int) -> None:
        if len(self.items) >= self.max_entries:
            if flags != UpdateFlag.EXIST:
                raise self._error("BPF_MAP_UPDATE_ELEM", errno.E2BIG, f"the map is full (max_entries {self.max_entries})")
            self.items.popleft()   # the oldest goes, for queues and stacks alike
        self.items.append(bytes(value))

    def _pop(self) -> bytes | None:
        if not self.items:
            return None
        return self.items.pop() if self.lifo else self.items.popleft()

    def _peek(self) -> bytes | None:
        if not self.items:
            return None
        return self.items[-1] if self.lifo else self.items[0]


class BloomFilterMap(VmMap):
    """bloom_filter: pushes set ``extra`` (default 5) hash bits; tests may say yes
    wrongly, never no wrongly."""

    def __init__(self, spec: MapSpec, cpus: int | None = None):
        super().__init__(spec, cpus)
        self.hashes = spec.extra or 5
        self.bits = max(64, 1 << (spec.max_entries * self.hashes * 2 - 1).bit_length())
        self.bitmap = bytearray(self.bits // 8)

    def _positions(self, value: bytes) -> list[int]:
        return [int.from_bytes(blake2b(bytes(value), digest_size=8, salt=i.to_bytes(16, "little")).digest(),
                               "little") % self.bits for i in range(self.hashes)]

    def _lookup(self, key: bytes) -> bytes | None:
        return None

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        self._push(value, flags)

    def _delete(self, key: bytes) -> bool:
        raise self._error("BPF_MAP_DELETE_ELEM", errno.EINVAL, "bloom filters cannot delete")

    def _next_key(self, key: bytes | None) -> bytes | None:
        return None

    def _push(self, value: bytes, flags: int) -> None:
        for bit in self._positions(value):
            self.bitmap[bit // 8] |= 1 << (bit % 8)

    def _bloom_test(self, value: bytes) -> bool:
        return all(self.bitmap[bit // 8] >> (bit % 8) & 1 for bit in self._positions(value))

    def _peek(self) -> bytes | None:
        return None


class FdArrayMap(ArrayMap):
    """prog_array, array_of_maps, perf_event_array: slots hold vm object ids (0 = empty)."""

    def _handle_of(self, obj: Any) -> int:
        number = getattr(obj, "id", None)
        if not isinstance(number, int) or OBJECTS.get(number) is not obj:
            return super()._handle_of(obj)
        return number

    def _lookup(self, key: bytes) -> bytes | None:
        value = super()._lookup(key)
        return None if value is None or value == bytes(len(value)) else value

    def _delete(self, key: bytes) -> bool:
        storage = self._storage(key)
        if storage is None or storage == bytes(len(storage)):
            return False
        storage[:] = bytes(len(storage))
        return True

    def _next_key(self, key: bytes | None) -> bytes | None:
        index = 0 if key is None else self._index(key) + 1
        while index < len(self.slots):
            if self.slots[index] != bytes(len(self.slots[index])):
                return index.to_bytes(4, "little")
            index += 1
        return None

    def object_at(self, index: int) -> Any:
        """The program or map in slot ``index``, or None."""
        if index >= len(self.slots):
            return None
        return OBJECTS.get(int.from_bytes(self.slots[index], "little"))


class RedirectArrayMap(FdArrayMap):
    """devmap, cpumap, xskmap: a slot holds an interface index, a CPU's queue size or a
    socket, and is empty (NULL to bpf_redirect_map) until userspace fills it."""

    def _storage(self, key: bytes) -> Any:
        storage = super()._storage(key)
        return None if storage is None or storage == bytes(len(storage)) else storage


class HashOfMapsMap(HashMap):
    """hash_of_maps: values are inner map ids."""

    _handle_of = FdArrayMap._handle_of


class RingBufMap(VmMap):
    """ringbuf: programs submit records; userspace drains them in order."""

    def __init__(self, spec: MapSpec, cpus: int | None = None):
        super().__init__(spec, cpus)
        self.records: deque[bytes] = deque()
        self.used = 0

    def _lookup(self, key: bytes) -> bytes | None:
        return None

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        raise self._error("BPF_MAP_UPDATE_ELEM", errno.EINVAL, "ring buffers are written by programs")

    def _delete(self, key: bytes) -> bool:
        raise self._error("BPF_MAP_DELETE_ELEM", errno.EINVAL, "ring buffers have no keys")

    def _next_key(self, key: bytes | None) -> bytes | None:
        return None

    def output(self, data: bytes) -> int:
        """bpf_ringbuf_output: 0, or -ENOSPC when the ring is full (8-byte header + data)."""
        size = (len(data) + 8 + 7) & ~7
        if self.used + size > self.max_entries:
            return -errno.ENOSPC
        self.used += size
        self.records.append(bytes(data))
        return 0

    def drain(self) -> list[bytes]:
        """Every record submitted so far, oldest first (and the space freed)."""
        out = list(self.records)
        self.records.clear()
        self.used = 0
        return out

    def _event_source(self, pages: int, wakeup_events: int) -> EventSource:
        return _VmEventSource(self.name, lambda: ((None, data) for data in self.drain()))


class PerfEventArrayMap(FdArrayMap):
    """perf_event_array: ``bpf_perf_event_output`` keeps ``(cpu, data)`` samples here
    for userspace, in order, as the kernel's per-CPU rings would deliver them."""

    def __init__(self, spec: MapSpec, cpus: int | None = None):
        super().__init__(spec, cpus)
        self.samples: list[tuple[int, bytes]] = []

    def output(self, cpu: int, data: bytes) -> None:
        """Keep a sample as the kernel's ring holds it: the raw data zero-padded so that
        with its 4-byte size it fills whole 8-byte words (readers see the padding too)."""
        self.samples.append((cpu, bytes(data) + bytes(-(len(data) + 4) % 8)))

    def _take_samples(self) -> Iterator[tuple[int | None, bytes]]:
        taken, self.samples = self.samples, []
        return iter(taken)

    def _event_source(self, pages: int, wakeup_events: int) -> EventSource:
        return _VmEventSource(self.name, self._take_samples)


class _VmEventSource:
    """Records a vm program already sent (it ran in the caller's thread): nothing to
    wait for, nothing lost (a full vm ring buffer fails the program's call instead)."""

    lost = 0

    def __init__(self, name: str, take: Callable[[], Iterator[tuple[int | None, bytes]]]):
        self.name = name
        self._take = take

    def fds(self) -> list[int]:
        return []

    def drain(self) -> Iterator[tuple[int | None, bytes]]:
        return self._take()

    def read_array(self, dtype: Any) -> Any:
        from pybpf.engine.events import records_array  # NumPy's side: not for a program's run

        return records_array([data for _, data in self._take()], dtype, self.name)

    def close(self) -> None:
        """Nothing is held: the records live on the map."""


class StackTraceMap(HashMap):
    """stack_trace: stack ids → arrays of instruction addresses, filled by
    bpf_get_stackid; userspace reads and deletes (and cannot write), as in the kernel."""

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        raise self._error("BPF_MAP_UPDATE_ELEM", errno.EINVAL, "stack trace maps are filled by bpf_get_stackid")

    def record(self, addresses: list[int]) -> int:
        """Store a stack (innermost first); its id, or -EFAULT for an empty stack. A
        different stack in the same bucket replaces it (the kernel's default)."""
        if not addresses:
            return -errno.EFAULT
        depth = self.value_size // 8
        data = b"".join(a.to_bytes(8, "little") for a in addresses[:depth]).ljust(self.value_size, b"\0")
        bucket = int.from_bytes(blake2b(data, digest_size=4).digest(), "little") % self.max_entries
        self.entries[bucket.to_bytes(4, "little")] = bytearray(data)
        return bucket


_KINDS = {
    MapType.ARRAY: ArrayMap, MapType.PERCPU_ARRAY: ArrayMap,
    MapType.HASH: HashMap, MapType.PERCPU_HASH: HashMap,
    MapType.LRU_HASH: lambda spec, cpus: HashMap(spec, cpus, lru=True),
    MapType.LRU_PERCPU_HASH: lambda spec, cpus: HashMap(spec, cpus, lru=True),
    MapType.LPM_TRIE: LpmTrieMap, MapType.QUEUE: QueueMap, MapType.STACK: QueueMap,
    MapType.BLOOM_FILTER: BloomFilterMap,
    MapType.PROG_ARRAY: FdArrayMap, MapType.ARRAY_OF_MAPS: FdArrayMap, MapType.PERF_EVENT_ARRAY: PerfEventArrayMap,
    MapType.DEVMAP: RedirectArrayMap, MapType.CPUMAP: RedirectArrayMap, MapType.XSKMAP: RedirectArrayMap,
    MapType.DEVMAP_HASH: HashMap,
    MapType.HASH_OF_MAPS: HashOfMapsMap, MapType.RINGBUF: RingBufMap, MapType.STACK_TRACE: StackTraceMap,
}


def create_map(spec: MapSpec, cpus: int | None = None) -> VmMap:
    """A vm map for ``spec`` (checked first), with initial contents written and frozen
    as the spec asks; per-CPU maps hold ``cpus`` values (default: this machine's)."""
    spec.check()
    kind = _KINDS.get(spec.type)
    if kind is None:
        raise BPFError("BPF_MAP_CREATE", errno.EINVAL, f"the vm engine has no {spec.type} maps "
                       f"(it has: {', '.join(sorted(str(k) for k in _KINDS))})", f"map {spec.name!r}")
    made = kind(spec, cpus)
    if spec.contents is not None:
        made._update(bytes(4), spec.contents, 0)
    if spec.freeze:
        made.freeze()
    return made
