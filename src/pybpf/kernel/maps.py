"""Kernel maps: BPF_MAP_CREATE and the element commands behind the shared Map API.

:class:`KernelMap` implements :class:`pybpf.engine.Map`'s primitives with bpf() calls on
buffers allocated once per map (so a lookup costs one syscall and two copies), adds the
kernel-only operations — pin/unpin, freeze, ``memory()`` for BPF_F_MMAPABLE arrays, id
and info — and the ways to get a map: :func:`create_map`, :func:`open_pinned_map`,
:func:`open_map_by_id`. A KernelMap owns its fd: ``close()`` (or the ``with`` block)
releases it; ``__del__`` only catches the forgotten ones. Element calls take a per-map lock,
since they share the map's buffers, so threads may share a KernelMap.
"""

from __future__ import annotations

import _thread
import ctypes
import errno
import mmap
import os

from pybpf.engine.map import Map
from pybpf.errors import BPFError
from pybpf.kernel import attrs
from pybpf.kernel.fds import create_fd, get_pinned_fd, pin_fd
from pybpf.kernel.info import map_info, spec_of_info
from pybpf.kernel.syscall import Command, bpf, bpf_at
from pybpf.object import MapFlag, MapSpec, MapType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from pybpf.engine.events import EventSource


class _ElemCall:
    """One element command whose attr is built once: the buffers it points to never move."""

    __slots__ = ("command", "attr", "address", "size")

    def __init__(self, command: Command, fd: int, key: int, value: int):
        self.command = command
        self.attr = attrs.MapElemAttr(map_fd=fd, key=key, value=value)
        self.address = ctypes.addressof(self.attr)
        self.size = ctypes.sizeof(self.attr)


class KernelMap(Map):
    """A map living in the kernel, reached through its file descriptor ``fd``."""

    def __init__(self, spec: MapSpec, fd: int):
        super().__init__(spec)
        self.fd = fd
        self._target = f"map {spec.name!r}"
        vsize = self.value_codec.size if self.value_size else 0
        self._kbuf = ctypes.create_string_buffer(max(self.key_size, 1))
        self._kbuf2 = ctypes.create_string_buffer(max(self.key_size, 1))
        self._vbuf = ctypes.create_string_buffer(max(vsize, 1))
        self._vsize = vsize
        self._whole = vsize == len(self._vbuf)
        key = ctypes.addressof(self._kbuf) if self.key_size else 0
        value, next_key = ctypes.addressof(self._vbuf), ctypes.addressof(self._kbuf2)
        # writes go through memoryviews: a slice assignment costs less than ctypes.memmove
        self._kview = memoryview(self._kbuf).cast("B")
        self._vview = memoryview(self._vbuf).cast("B")
        self._c_lookup = _ElemCall(Command.MAP_LOOKUP_ELEM, fd, key, value)
        self._c_update = _ElemCall(Command.MAP_UPDATE_ELEM, fd, key, value)
        self._c_delete = _ElemCall(Command.MAP_DELETE_ELEM, fd, key, 0)
        self._c_next = _ElemCall(Command.MAP_GET_NEXT_KEY, fd, key, next_key)
        self._c_first = _ElemCall(Command.MAP_GET_NEXT_KEY, fd, 0, next_key)
        self._c_push = _ElemCall(Command.MAP_UPDATE_ELEM, fd, 0, value)
        self._c_pop = _ElemCall(Command.MAP_LOOKUP_AND_DELETE_ELEM, fd, 0, value)
        self._c_peek = _ElemCall(Command.MAP_LOOKUP_ELEM, fd, 0, value)
        self._hints = {errno.E2BIG: f"the map is full (max_entries {self.max_entries})"}
        # the element buffers are shared by every call on this map: one call at a time
        self._lock = _thread.allocate_lock()   # threading.Lock, without importing threading
        self._mmap: mmap.mmap | None = None
        self._view: memoryview | None = None

    # -- primitives -----------------------------------------------------------------

    def _run(self, call: _ElemCall, flags: int = 0) -> bool:
        """Run a prepared element command; False when the kernel says ENOENT."""
        attr = call.attr
        if attr.flags != flags:
            attr.flags = flags
        try:
            bpf_at(call.command, call.address, call.size, self._target, self._hints)
            return True
        except BPFError as exc:
            if exc.errno == errno.ENOENT and call.command != Command.MAP_UPDATE_ELEM:
                return False
            raise

    def _value_bytes(self) -> bytes:
        return self._vbuf.raw if self._whole else self._vbuf.raw[:self._vsize]

    def _lookup(self, key: bytes) -> bytes | None:
        with self._lock:
            self._kview[:] = key
            return self._value_bytes() if self._run(self._c_lookup) else None

    def _lookup_flags(self, key: bytes, flags: int) -> bytes | None:
        with self._lock:
            self._kview[:] = key
            return self._value_bytes() if self._run(self._c_lookup, flags) else None

    def _update(self, key: bytes, value: bytes, flags: int) -> None:
        with self._lock:
            self._kview[:] = key
            self._vview[:] = value
            self._run(self._c_update, flags)

    def _delete(self, key: bytes) -> bool:
        with self._lock:
            self._kview[:] = key
            return self._run(self._c_delete)

    def _next_key(self, key: bytes | None) -> bytes | None:
        with self._lock:
            if key is None:
                found = self._run(self._c_first)
            else:
                self._kview[:] = key
                found = self._run(self._c_next)
            return self._kbuf2.raw[:self.key_size] if found else None

    def _push(self, value: bytes, flags: int) -> None:
        with self._lock:
            self._vview[:] = value
            self._run(self._c_push, flags)

    def _pop(self) -> bytes | None:
        with self._lock:
            return self._value_bytes() if self._run(self._c_pop) else None

    def _peek(self) -> bytes | None:
        with self._lock:
            return self._value_bytes() if self._run(self._c_peek) else None

    def _bloom_test(self, value: bytes) -> bool:
        with self._lock:
            self._vview[:] = value
            return self._run(self._c_peek)

    def _handle_of(self, obj: Any) -> int:
        fd = getattr(obj, "fd", None)
        if not isinstance(fd, int):
            return super()._handle_of(obj)
        return fd

    def _lookup_batch(self, cursor: bytes | None, count: int,
                      delete: bool) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        command = Command.MAP_LOOKUP_AND_DELETE_BATCH if delete else Command.MAP_LOOKUP_BATCH
        ksize, vsize = self.key_size, self._vsize
        # the batch cursor is opaque and sized by the map (hash maps use a bucket index)
        cursor_size = max(ksize, 4)
        in_batch = ctypes.create_string_buffer(cursor or b"", cursor_size)
        out_batch = ctypes.create_string_buffer(cursor_size)
        keys = ctypes.create_string_buffer(ksize * count)
        values = ctypes.create_string_buffer(vsize * count)
        attr = attrs.MapBatchAttr(
            in_batch=ctypes.addressof(in_batch) if cursor is not None else 0,
            out_batch=ctypes.addressof(out_batch), keys=ctypes.addressof(keys),
            values=ctypes.addressof(values), count=count, map_fd=self.fd)
        done = False
        try:
            bpf(command, attr, self._target)
        except BPFError as exc:
            if exc.errno == errno.ENOSPC and attr.count == 0:
                # one hash bucket holds more than ``count`` entries: ask for more at once
                return self._lookup_batch(cursor, count * 2, delete)
            if exc.errno != errno.ENOENT:
                raise
            done = True  # ENOENT: this batch holds the last entries (attr.count of them)
        kraw, vraw = keys.raw, values.raw
        entries = [(kraw[i * ksize:(i + 1) * ksize], vraw[i * vsize:(i + 1) * vsize])
                   for i in range(attr.count)]
        return entries, None if done else out_batch.raw

    def _update_batch(self, pairs: list[tuple[bytes, bytes]], flags: int) -> None:
        keys = b"".join(k for k, _ in pairs)
        values = b"".join(v for _, v in pairs)
        self._batch_write(Command.MAP_UPDATE_BATCH, keys, values, len(pairs), flags)

    def _delete_batch(self, keys: list[bytes]) -> None:
        self._batch_write(Command.MAP_DELETE_BATCH, b"".join(keys), None, len(keys), 0)

    def _batch_write(self, command: Command, keys: bytes, values: bytes | None,
                     count: int, flags: int) -> None:
        kbuf = ctypes.create_string_buffer(keys, len(keys))
        vbuf = ctypes.create_string_buffer(values, len(values)) if values is not None else None
        attr = attrs.MapBatchAttr(keys=ctypes.addressof(kbuf),
                                  values=ctypes.addressof(vbuf) if vbuf is not None else 0,
                                  count=count, map_fd=self.fd, elem_flags=flags)
        try:
            bpf(command, attr, self._target)
        except BPFError as exc:
            raise BPFError(exc.command, exc.errno, f"{exc.hint} (after {attr.count} of "
                           f"{count} elements)", self._target) from None

    # -- kernel-only operations ------------------------------------------------------

    @property
    def id(self) -> int:
        """The kernel's id for this map (what ``bpftool map show`` lists)."""
        return map_info(self.fd).id

    def info(self) -> attrs.MapInfo:
        """struct bpf_map_info as the kernel reports it now."""
        return map_info(self.fd)

    def pin(self, path: str) -> None:
        """Pin the map at ``path`` on a BPF filesystem, so it outlives this process."""
        pin_fd(self.fd, path, self._target)

    def unpin(self, path: str) -> None:
        """Remove the pin at ``path`` (the map lives on while fds or programs hold it)."""
        os.unlink(path)

    def freeze(self) -> None:
        """Make the map read-only for userspace from now on (BPF_MAP_FREEZE)."""
        bpf(Command.MAP_FREEZE, attrs.FdAttr(fd=self.fd), self._target)

    def memory(self) -> memoryview:
        """The values of a BPF_F_MMAPABLE array as one writable memoryview (shared with
        BPF programs). Release views sliced from it before closing the map."""
        if self.type != MapType.ARRAY or not self.flags & MapFlag.MMAPABLE:
            raise BPFError("mmap", errno.EINVAL, "only arrays created with "
                           "MapFlag.MMAPABLE can be mapped", self._target)
        if self._view is None:
            size = ((self.value_size + 7) & ~7) * self.max_entries
            size = (size + mmap.PAGESIZE - 1) & ~(mmap.PAGESIZE - 1)
            self._mmap = mmap.mmap(self.fd, size, mmap.MAP_SHARED,
                                   mmap.PROT_READ | mmap.PROT_WRITE)
            self._view = memoryview(self._mmap)
        return self._view

    def _event_source(self, pages: int, wakeup_events: int) -> EventSource:
        from pybpf.kernel.events import PerfBufferSource, RingBufferSource  # readers only when asked for

        if self.type == MapType.RINGBUF:
            return RingBufferSource(self)
        if self.type == MapType.PERF_EVENT_ARRAY:
            return PerfBufferSource(self, pages, wakeup_events)
        return super()._event_source(pages, wakeup_events)

    def _close(self) -> None:
        try:
            if self._view is not None:
                self._view.release()
            if self._mmap is not None:
                self._mmap.close()
        finally:
            os.close(self.fd)


def create_map(spec: MapSpec, btf_fd: int = 0) -> KernelMap:
    """Create the map ``spec`` describes (with a template inner map for maps of maps);
    ``btf_fd`` is the loaded ``spec.btf``, when the caller loaded it."""
    spec.check()
    inner_fd = 0
    if spec.inner is not None:
        inner_fd = create_fd(spec.inner, btf_fd=btf_fd)      # (its BTF is the outer map's)
    try:
        return KernelMap(spec, create_fd(spec, inner_fd, btf_fd))
    finally:
        if inner_fd:
            os.close(inner_fd)


def _adopt(fd: int, **types: Any) -> KernelMap:
    """A KernelMap for an fd we just got (from a pin or an id), spec read from the kernel."""
    try:
        spec = spec_of_info(map_info(fd), **types)
        return KernelMap(spec, fd)
    except BaseException:
        os.close(fd)
        raise


def open_pinned_map(path: str, key_type: Any = None, value_type: Any = None) -> KernelMap:
    """The map pinned at ``path``."""
    return _adopt(get_pinned_fd(path), key_type=key_type, value_type=value_type)


def open_map_by_id(map_id: int, key_type: Any = None, value_type: Any = None) -> KernelMap:
    """The loaded map with id ``map_id``."""
    fd = bpf(Command.MAP_GET_FD_BY_ID, attrs.IdAttr(start_id=map_id), f"map id {map_id}")
    return _adopt(fd, key_type=key_type, value_type=value_type)


