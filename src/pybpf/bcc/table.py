"""BCC's table objects (``b["counts"]``) on pybpf's kernel maps: dict-like access with
ctypes ``Key``/``Leaf`` values, BCC's histogram printers (same layout, character for
character), and the perf/ring buffer readers behind ``open_perf_buffer``/``open_ring_buffer``.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from pybpf.errors import PybpfError
from pybpf.object.kinds import MapType

STARS_MAX = 40
LOG2_INDEX_MAX = 65
LINEAR_INDEX_MAX = 1025


class TableError(PybpfError, KeyError):
    """A table operation BCC would also refuse (an unknown key, a wrong table kind)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _stars(val: int, val_max: int, width: int) -> str:
    count = min(width, width * val // val_max) if val_max > 0 else 0
    text = "*" * count
    return text[:-1] + "+" if val > val_max else text


def _print_log2(vals: list[int], val_type: str, strip_leading_zero: Any) -> None:
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        val_max = max(val_max, v)
    if idx_max <= 32:
        header, body, stars = "     %-19s : count     distribution", "%10d -> %-10d : %-8d |%-*s|", STARS_MAX
    else:
        header, body, stars = ("               %-29s : count     distribution", "%20d -> %-20d : %-8d |%-*s|",
                               STARS_MAX // 2)
    if idx_max > 0:
        print(header % val_type)
    for i in range(1, idx_max + 1):
        low, high = (1 << i) >> 1, (1 << i) - 1
        if low == high:
            low -= 1
        if strip_leading_zero and not vals[i]:
            continue
        strip_leading_zero = False
        print(body % (low, high, vals[i], stars, _stars(vals[i], val_max, stars)))


def _print_linear(vals: list[int], val_type: str, strip_leading_zero: Any) -> None:
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        val_max = max(val_max, v)
    if idx_max >= 0:
        print("     %-13s : count     distribution" % val_type)  # noqa: UP031
    for i in range(idx_max + 1):
        if strip_leading_zero and not vals[i]:
            continue
        strip_leading_zero = False
        print("        %-10d : %-8d |%-*s|" % (i, vals[i], STARS_MAX, _stars(vals[i], val_max, STARS_MAX)))  # noqa: UP031


def _scalar(value: Any) -> int:
    return value.value if hasattr(value, "value") else int(value)


class Table:
    """One map of a BCC program, as ``b["name"]`` returns it."""

    def __init__(self, bpf: Any, name: str, kernel_map: Any, key_type: Any, leaf_type: Any) -> None:
        self.bpf, self.name, self.map = bpf, name, kernel_map
        self.Key, self.Leaf = key_type, leaf_type
        self.map_type = kernel_map.spec.type
        self.max_entries = kernel_map.spec.max_entries
        self.flags = kernel_map.spec.flags

    @property
    def map_fd(self) -> int:
        """The map's fd, by BCC's name (scripts attach a sockmap's programs to it)."""
        return int(self.map.fd)

    # -- conversion ----------------------------------------------------------------------
    def _key_bytes(self, key: Any) -> bytes:
        if not isinstance(key, ctypes._SimpleCData | ctypes.Structure | ctypes.Union | ctypes.Array):
            key = self.Key(key)
        return bytes(key)

    def _leaf_bytes(self, leaf: Any) -> bytes:
        if not isinstance(leaf, ctypes._SimpleCData | ctypes.Structure | ctypes.Union | ctypes.Array):
            leaf = self.Leaf(leaf)
        return bytes(leaf)

    def _leaf(self, raw: bytes) -> Any:
        return self.Leaf.from_buffer_copy(raw[:ctypes.sizeof(self.Leaf)])

    # -- dict protocol -------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        raw = self.map._lookup(self._key_bytes(key))
        if raw is None:
            raise TableError(f"table {self.name!r} has no key {key!r}")
        return self._leaf(raw)

    def __setitem__(self, key: Any, leaf: Any) -> None:
        self.map._update(self._key_bytes(key), self._leaf_bytes(leaf), 0)

    def __delitem__(self, key: Any) -> None:
        if not self.map._delete(self._key_bytes(key)):
            raise TableError(f"table {self.name!r} has no key {key!r}")

    def __contains__(self, key: Any) -> bool:
        return self.map._lookup(self._key_bytes(key)) is not None

    def _raw_keys(self) -> Iterator[bytes]:
        keys, key = [], self.map._next_key(None)
        while key is not None:
            keys.append(key)
            key = self.map._next_key(key)
        return iter(keys)

    def keys(self) -> Iterator[Any]:
        return (self.Key.from_buffer_copy(k) for k in self._raw_keys())

    __iter__ = keys

    def items(self) -> list[tuple[Any, Any]]:
        out = []
        for k in self._raw_keys():
            raw = self.map._lookup(k)
            if raw is not None:
                out.append((self.Key.from_buffer_copy(k), self._leaf(raw)))
        return out

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __len__(self) -> int:
        return sum(1 for _ in self._raw_keys())

    def clear(self) -> None:
        for k in list(self._raw_keys()):
            self.map._delete(k)

    def items_lookup_batch(self) -> Iterator[tuple[Any, Any]]:
        """Every (key, leaf), read a batch at a time (BPF_MAP_LOOKUP_BATCH), as BCC's."""
        cursor = None
        while True:
            entries, cursor = self.map._lookup_batch(cursor, 64, False)
            for k, v in entries:
                yield self.Key.from_buffer_copy(k), self._leaf(v)
            if cursor is None:
                return

    def items_delete_batch(self, ckeys: Any = None) -> None:
        """Delete the keys of the ctypes array ``ckeys`` at once (BPF_MAP_DELETE_BATCH), or
        every key when None, as BCC's."""
        keys = [self._key_bytes(k) for k in ckeys] if ckeys is not None else list(self._raw_keys())
        if keys:
            self.map._delete_batch(keys)

    def items_update_batch(self, ckeys: Any, cleaves: Any) -> None:
        """Set the keys of the ctypes array ``ckeys`` to the leaves of ``cleaves`` at once
        (BPF_MAP_UPDATE_BATCH), as BCC's."""
        if len(ckeys) != len(cleaves):
            raise TableError(f"items_update_batch on {self.name}: {len(ckeys)} keys but {len(cleaves)} leaves")
        # an array of simple ctypes yields ints: _key_bytes/_leaf_bytes make them the table's types
        self.map._update_batch([(self._key_bytes(k), self._leaf_bytes(v)) for k, v in zip(ckeys, cleaves)], 0)

    def items_lookup_and_delete_batch(self) -> Iterator[tuple[Any, Any]]:
        for k, v in self.items():
            self.map._delete(bytes(k))
            yield k, v

    def zero(self) -> None:
        zero = bytes(len(self._leaf_bytes(self.Leaf())))
        for k in list(self._raw_keys()):
            self.map._update(k, zero, 0)

    # -- histograms ------------------------------------------------------------------------
    def _sections(self, size: int, bucket_fn: Callable | None, bucket_sort_fn: Callable | None) -> Any:
        if isinstance(self.Key(), ctypes.Structure):
            fields = [f[0] for f in self.Key._fields_]
            first, slot = fields[0], fields[1]
            if slot.startswith("__pad") and len(fields) == 3:
                slot = fields[2]
            sections: dict[Any, list[int]] = {}
            for k, v in self.items():
                bucket = getattr(k, first)
                if bucket_fn:
                    bucket = bucket_fn(bucket)
                sections.setdefault(bucket, [0] * size)[getattr(k, slot)] = _scalar(v)
            buckets = list(sections)
            if bucket_sort_fn:
                buckets = bucket_sort_fn(buckets)
            return [(b, sections[b]) for b in buckets]
        vals = [0] * size
        for k, v in self.items():
            index = _scalar(k)
            if 0 <= index < size:
                vals[index] = _scalar(v)
        return vals

    def print_log2_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                        section_print_fn: Callable | None = None, bucket_fn: Callable | None = None,
                        strip_leading_zero: Any = None, bucket_sort_fn: Callable | None = None) -> None:
        """BCC's power-of-two histogram; a struct key's first field picks the section."""
        self._print(_print_log2, LOG2_INDEX_MAX, val_type, section_header, section_print_fn, bucket_fn,
                    strip_leading_zero, bucket_sort_fn)

    def print_linear_hist(self, val_type: str = "value", section_header: str = "Bucket ptr",
                          section_print_fn: Callable | None = None, bucket_fn: Callable | None = None,
                          strip_leading_zero: Any = None, bucket_sort_fn: Callable | None = None) -> None:
        """BCC's linear histogram (one row per key value)."""
        self._print(_print_linear, LINEAR_INDEX_MAX, val_type, section_header, section_print_fn, bucket_fn,
                    strip_leading_zero, bucket_sort_fn)

    def _print(self, printer: Callable, size: int, val_type: str, section_header: str,
               section_print_fn: Callable | None, bucket_fn: Callable | None, strip_leading_zero: Any,
               bucket_sort_fn: Callable | None) -> None:
        data = self._sections(size, bucket_fn, bucket_sort_fn)
        if data and isinstance(data[0], tuple) or (not data and isinstance(self.Key(), ctypes.Structure)):
            for bucket, vals in data:
                shown = section_print_fn(bucket) if section_print_fn else repr(bucket)
                print("\n%s = %s" % (section_header, shown))  # noqa: UP031
                printer(vals, val_type, strip_leading_zero)
        else:
            printer(data, val_type, strip_leading_zero)


class ArrayTable(Table):
    """Arrays: every index exists; ``del`` zeroes; ``len`` is the size."""

    def __len__(self) -> int:
        return self.max_entries

    def _raw_keys(self) -> Iterator[bytes]:
        return (bytes(self.Key(i)) for i in range(self.max_entries))

    def __delitem__(self, key: Any) -> None:
        self.map._update(self._key_bytes(key), bytes(ctypes.sizeof(self.Leaf) * self._cpus()), 0)

    def _cpus(self) -> int:
        return 1

    def clear(self) -> None:
        self.zero()

    def zero(self) -> None:
        for k in list(self._raw_keys()):
            self.__delitem__(self.Key.from_buffer_copy(k))


class PerCpuMixin:
    """Per-CPU maps: a value is one Leaf per possible CPU (``Leaf * n``)."""

    def _cpus(self) -> int:
        return self.map.cpu_count()

    def _leaf(self, raw: bytes) -> Any:
        size = ctypes.sizeof(self.Leaf)
        step = (size + 7) // 8 * 8
        return [self.Leaf.from_buffer_copy(raw[i * step:i * step + size]) for i in range(self._cpus())]

    def _leaf_bytes(self, leaf: Any) -> bytes:
        size = ctypes.sizeof(self.Leaf)
        step = (size + 7) // 8 * 8
        values = leaf if isinstance(leaf, (list, tuple, ctypes.Array)) else [leaf] * self._cpus()
        return b"".join(Table._leaf_bytes(self, v).ljust(step, b"\0") for v in values)

    def sum(self, key: Any) -> Any:
        return self.Leaf(sum(_scalar(v) for v in self[key]))

    def max(self, key: Any) -> Any:
        return self.Leaf(max(_scalar(v) for v in self[key]))

    def average(self, key: Any) -> float:
        values = self[key]
        return sum(_scalar(v) for v in values) / len(values)


class PerCpuHash(PerCpuMixin, Table):
    pass


class PerCpuArray(PerCpuMixin, ArrayTable):
    pass


class BpfStackBuildId(ctypes.Structure):
    """A frame of a BPF_STACK_TRACE_BUILDID table (the kernel's ``struct
    bpf_stack_build_id``): BCC's ``sym`` tells these from addresses by the type's name."""

    _fields_ = [("status", ctypes.c_int32), ("build_id", ctypes.c_ubyte * 20), ("offset", ctypes.c_uint64)]


class StackTrace(Table):
    """Stack ids → up to 127 return addresses; ``walk(id)`` yields them — or, for a
    table with BPF_F_STACK_BUILD_ID, the frames with a build id and file offset
    (:class:`BpfStackBuildId`), up to the first the kernel could only give an address for,
    as BCC's StackWalker."""

    BPF_F_STACK_BUILD_ID = 1 << 5
    BPF_STACK_BUILD_ID_VALID = 1

    def walk(self, stack_id: int) -> Iterator[Any]:
        if stack_id < 0:
            return iter(())
        raw = self.map._lookup(bytes(ctypes.c_uint32(stack_id)))
        if raw is None:
            return iter(())
        if self.map.flags & self.BPF_F_STACK_BUILD_ID:
            frames = (BpfStackBuildId * (len(raw) // ctypes.sizeof(BpfStackBuildId))).from_buffer_copy(raw)
            valid = itertools.takewhile(lambda f: f.status == self.BPF_STACK_BUILD_ID_VALID, frames)
            return iter(list(valid))
        addresses = (ctypes.c_uint64 * (len(raw) // 8)).from_buffer_copy(raw)
        return iter([a for a in addresses if a])


class QueueStack(Table):
    """BPF_QUEUE/BPF_STACK: ``push``, ``pop``, ``peek`` and ``itervalues``."""

    def push(self, leaf: Any, flags: int = 0) -> None:
        self.map._push(self._leaf_bytes(leaf), flags)

    def pop(self) -> Any:
        raw = self.map._pop()
        if raw is None:
            raise TableError(f"{self.name!r} is empty")
        return self._leaf(raw)

    def peek(self) -> Any:
        raw = self.map._peek()
        if raw is None:
            raise TableError(f"{self.name!r} is empty")
        return self._leaf(raw)

    def itervalues(self) -> Iterator[Any]:
        while True:
            raw = self.map._pop()
            if raw is None:
                return
            yield self._leaf(raw)

    def values(self) -> list[Any]:
        return list(self.itervalues())


class EventTable(Table):
    """BPF_PERF_OUTPUT and BPF_RINGBUF_OUTPUT: ``event(data)`` decodes a record as the
    struct the program sends (from the program's BTF)."""

    event_type: Any = None

    def event(self, data: Any) -> Any:
        if self.event_type is None:
            raise TableError(f"the record type sent through {self.name!r} is not known: pass the "
                             "address of a struct variable to perf_submit/ringbuf_output")
        raw = data if isinstance(data, (bytes, bytearray, memoryview)) else ctypes.string_at(data, ctypes.sizeof(
            self.event_type))
        raw = bytes(raw)[:ctypes.sizeof(self.event_type)].ljust(ctypes.sizeof(self.event_type), b"\0")
        return self.event_type.from_buffer_copy(raw)

    def open_perf_buffer(self, callback: Callable, page_cnt: int = 8, lost_cb: Callable | None = None,
                         wakeup_events: int = 1) -> None:
        if self.map_type != MapType.PERF_EVENT_ARRAY:
            raise TableError(f"{self.name!r} is not a BPF_PERF_OUTPUT table")
        self.bpf._open_perf_buffer(self, callback, page_cnt, lost_cb, wakeup_events)

    def open_ring_buffer(self, callback: Callable, ctx: Any = None) -> None:
        if self.map_type != MapType.RINGBUF:
            raise TableError(f"{self.name!r} is not a BPF_RINGBUF_OUTPUT table")
        self.bpf._open_ring_buffer(self, callback, ctx)


def table_class(map_type: MapType) -> type[Table]:
    """The Table class BCC would return for a map of this type."""
    return {MapType.ARRAY: ArrayTable, MapType.PERCPU_ARRAY: PerCpuArray, MapType.PERCPU_HASH: PerCpuHash,
            MapType.LRU_PERCPU_HASH: PerCpuHash, MapType.STACK_TRACE: StackTrace, MapType.QUEUE: QueueStack,
            MapType.STACK: QueueStack, MapType.PERF_EVENT_ARRAY: EventTable, MapType.RINGBUF: EventTable,
            MapType.PROG_ARRAY: ArrayTable}.get(map_type, Table)
