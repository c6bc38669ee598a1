"""The Map API both engines offer, written once over a few primitives per engine.

An engine subclasses :class:`Map` and implements the byte-level primitives
(``_lookup``, ``_update``, ``_delete``, ``_next_key``, ``_close``, and where its map types
need them ``_push``/``_pop``/``_peek``/``_bloom_test``/``_handle_of`` and the ``_batch``
ones, which default to loops over the single-element primitives). Everything a user
calls — dict access, typed keys and values, per-CPU lists, batches, queues — lives here,
so both engines behave the same by construction.

Primitives take and return raw bytes. They return None/False for a missing key and raise
:class:`~pybpf.errors.BPFError` (with the errno the kernel would give) otherwise.
"""

from __future__ import annotations

import enum
import errno
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping

from pybpf.engine.codec import Codec, LpmKeyCodec, PerCpuCodec, btf_codec, make_codec
from pybpf.engine.cpus import possible_cpus
from pybpf.errors import BPFError, CodecError
from pybpf.object import MapSpec, MapType
from pybpf.resource import Resource

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from pybpf.engine.events import EventSource


class UpdateFlag(enum.IntEnum):
    """BPF_ANY / BPF_NOEXIST / BPF_EXIST (and BPF_F_LOCK) for updates."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2
    LOCK = 4


ANY, NOEXIST, EXIST = UpdateFlag.ANY, UpdateFlag.NOEXIST, UpdateFlag.EXIST

_ARRAYS = {MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY,
           MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS, MapType.CGROUP_ARRAY}
_STACK_TRACE_VALUE = "Q"


class Map(Resource, ABC):
    """A live map. Use it as a context manager, or call :meth:`close`.

    Keys and values convert through :attr:`key_codec`/:attr:`value_codec` (from the
    spec's ``key_type``/``value_type``). Per-CPU maps read as a list with one value per
    possible CPU. Maps of maps and program arrays take a Map/Program (or a raw handle)
    when written and read back the inner object's id.
    """

    def __init__(self, spec: MapSpec):
        self.spec = spec
        self.name = spec.name
        self.type = spec.type
        self.key_size = spec.key_size
        self.value_size = spec.value_size
        self.max_entries = spec.max_entries
        self.flags = spec.flags
        self._holds_fds = spec.type.holds_fds
        self.key_codec = self._key_codec(spec)
        self.value_codec = self._value_codec(spec)
        self._closed = False

    # -- codecs ---------------------------------------------------------------------

    def _key_codec(self, spec: MapSpec) -> Codec:
        where = f"key of map {spec.name!r}"
        if spec.type == MapType.LPM_TRIE and spec.key_type is None:
            return LpmKeyCodec(spec.key_size, where)
        if spec.key_type is None:
            described = btf_codec(spec.btf, spec.btf_key_type_id, spec.key_size, where)
            if described is not None:
                return described
        return make_codec(spec.key_type, spec.key_size, where)

    def _value_codec(self, spec: MapSpec) -> Codec:
        where = f"value of map {spec.name!r}"
        kind = spec.value_type
        if kind is None and spec.type == MapType.STACK_TRACE:
            kind = _STACK_TRACE_VALUE * (spec.value_size // 8)
        if kind is None and not spec.type.holds_fds:
            kind = btf_codec(spec.btf, spec.btf_value_type_id, spec.value_size, where)
        codec = make_codec(kind, spec.value_size, where)
        return PerCpuCodec(codec, self.cpu_count()) if spec.type.per_cpu else codec

    def cpu_count(self) -> int:
        """How many per-CPU values a per-CPU map holds (the kernel's possible CPUs; the
        vm engine may be configured with another count)."""
        return possible_cpus()

    # -- primitives each engine provides --------------------------------------------

    @abstractmethod
    def _lookup(self, key: bytes) -> bytes | None:
        """The value bytes stored under ``key``, or None when there is none."""

    @abstractmethod
    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        """Store ``value`` under ``key`` (BPFError: E2BIG full, EEXIST, ENOENT...)."""

    @abstractmethod
    def _delete(self, key: bytes) -> bool:
        """Remove ``key``; False when it was not there."""

    @abstractmethod
    def _next_key(self, key: bytes | None) -> bytes | None:
        """The key after ``key`` (the first for None), or None at the end."""

    @abstractmethod
    def _close(self) -> None:
        """Release the engine's resources for this map (called once)."""

    @property
    @abstractmethod
    def id(self) -> int:
        """The engine's id for this map: what maps of maps read back for it."""

    def _push(self, value: bytes, flags: int) -> None:
        raise self._unsupported("BPF_MAP_UPDATE_ELEM", "push")

    def _pop(self) -> bytes | None:
        raise self._unsupported("BPF_MAP_LOOKUP_AND_DELETE_ELEM", "pop")

    def _peek(self) -> bytes | None:
        raise self._unsupported("BPF_MAP_LOOKUP_ELEM", "peek")

    def _bloom_test(self, value: bytes) -> bool:
        raise self._unsupported("BPF_MAP_LOOKUP_ELEM", "membership tests")

    def _handle_of(self, obj: Any) -> int:
        """What a fd-holding map stores for a Map/Program: a fd (kernel) or an id (vm)."""
        raise CodecError(f"value of map {self.name!r}: {type(obj).__name__} is not an "
                         "object this engine can store")

    def _lookup_batch(self, cursor: bytes | None, count: int,
                      delete: bool) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        """Up to ``count`` entries after ``cursor`` and the next cursor (None: done)."""
        out: list[tuple[bytes, bytes]] = []
        key = self._next_key(cursor)
        while key is not None and len(out) < count:
            following = self._next_key(key)
            value = self._lookup(key)
            if value is not None:
                out.append((key, value))
                if delete:
                    self._delete(key)
            key = following
        return out, (out[-1][0] if key is not None and out else None)

    def _update_batch(self, pairs: list[tuple[bytes, bytes]], flags: int) -> None:
        for key, value in pairs:
            self._update(key, value, flags)

    def _delete_batch(self, keys: list[bytes]) -> None:
        for key in keys:
            if not self._delete(key):
                raise BPFError("BPF_MAP_DELETE_BATCH", errno.ENOENT, "a key in the batch is not in "
                               "the map", f"map {self.name!r}")

    def _unsupported(self, command: str, what: str) -> BPFError:
        return BPFError(command, errno.EINVAL, f"a {self.type} map does not support {what}",
                        f"map {self.name!r}")

    # -- conversions ----------------------------------------------------------------

    def _key(self, key: Any) -> bytes:
        return self.key_codec.encode(key)

    def _value(self, value: Any) -> bytes:
        if self._holds_fds and not isinstance(value, (int, bytes, bytearray)):
            value = self._handle_of(value)
        return self.value_codec.encode(value)

    # -- dict-like access -----------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        raw = self._lookup(self._key(key))
        if raw is None:
            raise KeyError(key)
        return self.value_codec.decode(raw)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._update(self._key(key), self._value(value), UpdateFlag.ANY)

    def __delitem__(self, key: Any) -> None:
        if not self._delete(self._key(key)):
            raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        if self.type == MapType.BLOOM_FILTER:
            return self._bloom_test(self.value_codec.encode(key))
        return self._lookup(self._key(key)) is not None

    def __iter__(self) -> Iterator[Any]:
        return self.keys()

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        """Entries present: max_entries for arrays of values (every slot exists), the
        filled slots of fd arrays (program arrays, maps of maps), a key walk otherwise."""
        if self.type.keyless:
            raise TypeError(f"a {self.type} map cannot count its elements")
        if self._holds_fds:
            return sum(1 for _ in self.items())
        if self.type in _ARRAYS:
            return self.max_entries
        return sum(1 for _ in self._raw_keys())

    def get(self, key: Any, default: Any = None, flags: int = 0) -> Any:
        """The value under ``key``, or ``default``; ``flags=UpdateFlag.LOCK`` (BPF_F_LOCK)
        copies it under the value's bpf_spin_lock."""
        raw = self._lookup(self._key(key)) if not flags else self._lookup_flags(self._key(key), flags)
        return default if raw is None else self.value_codec.decode(raw)

    def _lookup_flags(self, key: bytes, flags: int) -> bytes | None:
        """:meth:`_lookup` with BPF_MAP_LOOKUP_ELEM's flags (BPF_F_LOCK)."""
        raise self._unsupported("BPF_MAP_LOOKUP_ELEM", f"lookup flags 0x{flags:x}")

    def update(self, key: Any, value: Any, flags: int = UpdateFlag.ANY) -> None:
        """Store ``value`` under ``key`` with BPF_ANY (default), BPF_NOEXIST or BPF_EXIST."""
        self._update(self._key(key), self._value(value), flags)

    def _raw_keys(self) -> Iterator[bytes]:
        if self.type.keyless:
            raise self._unsupported("BPF_MAP_GET_NEXT_KEY", "iteration (it has no keys)")
        key = self._next_key(None)
        while key is not None:
            yield key
            key = self._next_key(key)

    def keys(self) -> Iterator[Any]:
        """The keys, in the map's own order (do not delete while iterating a hash)."""
        decode = self.key_codec.decode
        return (decode(k) for k in self._raw_keys())

    def items(self) -> Iterator[tuple[Any, Any]]:
        """(key, value) pairs; a key deleted meanwhile is skipped."""
        kdec, vdec = self.key_codec.decode, self.value_codec.decode
        for key in self._raw_keys():
            raw = self._lookup(key)
            if raw is not None:
                yield kdec(key), vdec(raw)

    def values(self) -> Iterator[Any]:
        """The values, in key order."""
        return (value for _, value in self.items())

    def clear(self) -> None:
        """Empty the map: delete every key, zero every array slot, pop every element."""
        if self.type.keyless:
            while self._pop() is not None:
                pass
            return
        if self.type in _ARRAYS and not self.type.holds_fds:
            zero = bytes(self.value_codec.size)
            for key in list(self._raw_keys()):
                self._update(key, zero, UpdateFlag.ANY)
            return
        for key in list(self._raw_keys()):
            self._delete(key)

    # -- batches --------------------------------------------------------------------

    def lookup_batch(self, chunk: int = 256) -> list[tuple[Any, Any]]:
        """Every (key, value), read ``chunk`` entries per batch call."""
        return self._batch_read(chunk, delete=False)

    def lookup_and_delete_batch(self, chunk: int = 256) -> list[tuple[Any, Any]]:
        """Every (key, value), removing them as they are read."""
        return self._batch_read(chunk, delete=True)

    def _batch_read(self, chunk: int, delete: bool) -> list[tuple[Any, Any]]:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        kdec, vdec = self.key_codec.decode, self.value_codec.decode
        out: list[tuple[Any, Any]] = []
        cursor: bytes | None = None
        while True:
            entries, cursor = self._lookup_batch(cursor, chunk, delete)
            out.extend((kdec(k), vdec(v)) for k, v in entries)
            if cursor is None:
                return out

    def update_batch(self, pairs: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
                     flags: int = UpdateFlag.ANY) -> None:
        """Store many (key, value) pairs in one call."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        raw = [(self._key(k), self._value(v)) for k, v in items]
        if raw:
            self._update_batch(raw, flags)

    def delete_batch(self, keys: Iterable[Any]) -> None:
        """Delete many keys in one call (BPFError ENOENT if one is missing)."""
        raw = [self._key(k) for k in keys]
        if raw:
            self._delete_batch(raw)

    # -- queues, stacks, bloom filters ---------------------------------------------

    def push(self, value: Any, flags: int = UpdateFlag.ANY) -> None:
        """Add to a queue/stack/bloom filter (BPF_EXIST on a full queue drops the oldest)."""
        self._push(self.value_codec.encode(value), flags)

    def pop(self) -> Any:
        """Take the next element of a queue (oldest) or stack (newest); KeyError if empty."""
        raw = self._pop()
        if raw is None:
            raise KeyError(f"map {self.name!r} is empty")
        return self.value_codec.decode(raw)

    def peek(self) -> Any:
        """The element :meth:`pop` would return, left in place; KeyError if empty."""
        raw = self._peek()
        if raw is None:
            raise KeyError(f"map {self.name!r} is empty")
        return self.value_codec.decode(raw)

    # -- life cycle -----------------------------------------------------------------

    def _event_source(self, pages: int, wakeup_events: int) -> EventSource:
        """The engine's reader of records sent through this map (see
        :mod:`pybpf.engine.events`); only ring buffers and perf event arrays have one."""
        raise BPFError("events", errno.EINVAL, f"{self.type} maps carry no events (ring buffers "
                       "and perf event arrays do)", f"map {self.name!r}")

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (f"<{type(self).__name__} {self.name!r} {self.type} key={self.key_size} "
                f"value={self.value_size} max={self.max_entries}{state}>")
