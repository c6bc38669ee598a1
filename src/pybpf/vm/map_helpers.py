"""The helpers that touch maps, for programs the vm engine loads with their maps:
lookup (a pointer into the map's own value buffer), update, delete, push/pop/peek,
ring buffer output, and tail calls through a program array.

A map operand is the opaque handle ``r1 = map[fd:ID]`` loaded (``MAP_HANDLE_BASE + id``).
Return codes are the kernel's: 0 or a negative errno.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from pybpf.object import MapType
from pybpf.vm.errors import VMError
from pybpf.vm.helpers import helper
from pybpf.vm.constants import M64, MAP_HANDLE_BASE

#: tail calls a program may chain, as in the kernel
MAX_TAIL_CALLS = 33


class TailCall(Exception):
    """Raised by bpf_tail_call to replace the running program (caught by the engine)."""

    def __init__(self, program: Any):
        super().__init__(program)
        self.program = program


def _map(vm: Any, handle: int) -> Any:
    found = vm.program.maps.get((handle - MAP_HANDLE_BASE) & M64) if handle is not None else None
    if found is None:
        raise VMError(f"0x{handle or 0:x} is not a map this program was loaded with")
    return found


def _pointer(vm: Any, buffer: bytearray, what: str) -> int:
    """The program-visible address of a map value buffer (mapped once per run)."""
    mapped = vm.__dict__.setdefault("mapped_values", {})
    key = id(buffer)
    if key not in mapped:
        mapped[key] = (vm.memory.map(buffer, writable=True, name=what), buffer)
    return mapped[key][0]


def _errno(code: int) -> int:
    return code & M64


@helper("bpf_map_lookup_elem")
def map_lookup_elem(vm: Any, handle: int, key: int, *_: int) -> int:
    target = _map(vm, handle)
    buffer = target.value_buffer(vm.memory.read_bytes(key, target.key_size), vm.cpu)
    return 0 if buffer is None else _pointer(vm, buffer, f"value in map {target.name!r}")


@helper("bpf_map_update_elem")
def map_update_elem(vm: Any, handle: int, key: int, value: int, flags: int, *_: int) -> int:
    target = _map(vm, handle)
    return _errno(target.helper_update(vm.memory.read_bytes(key, target.key_size),
                                       vm.memory.read_bytes(value, target.value_size), flags, vm.cpu))


@helper("bpf_map_delete_elem")
def map_delete_elem(vm: Any, handle: int, key: int, *_: int) -> int:
    target = _map(vm, handle)
    return _errno(target.helper_delete(vm.memory.read_bytes(key, target.key_size)))


@helper("bpf_map_push_elem")
def map_push_elem(vm: Any, handle: int, value: int, flags: int, *_: int) -> int:
    target = _map(vm, handle)
    try:
        target._push(vm.memory.read_bytes(value, target.value_size), flags)
    except Exception as exc:  # BPFError: the map refused
        return _errno(-getattr(exc, "errno", errno.EINVAL))
    return 0


def _take(vm: Any, handle: int, value: int, pop: bool) -> int:
    target = _map(vm, handle)
    data = target._pop() if pop else target._peek()
    if data is None:
        return _errno(-errno.ENOENT)
    vm.memory.write_bytes(value, data)
    return 0


@helper("bpf_map_pop_elem")
def map_pop_elem(vm: Any, handle: int, value: int, *_: int) -> int:
    return _take(vm, handle, value, True)


@helper("bpf_map_peek_elem")
def map_peek_elem(vm: Any, handle: int, value: int, *_: int) -> int:
    return _take(vm, handle, value, False)


@helper("bpf_ringbuf_output")
def ringbuf_output(vm: Any, handle: int, data: int, size: int, flags: int, *_: int) -> int:
    return _errno(_map(vm, handle).output(vm.memory.read_bytes(data, size)))


@helper("bpf_tail_call")
def tail_call(vm: Any, ctx: int, handle: int, index: int, *_: int) -> int:
    target = _map(vm, handle).object_at(index & 0xFFFF_FFFF)
    if target is None or vm.__dict__.get("tail_calls_left", MAX_TAIL_CALLS) <= 0:
        return _errno(-errno.ENOENT)   # an empty slot, or the 34th tail call: the caller carries on
    raise TailCall(target)


@helper("bpf_get_current_pid_tgid")
def get_current_pid_tgid(vm: Any, *_: int) -> int:
    """This process as the current task (tgid in the high half)."""
    return os.getpid() << 32 | os.getpid()


@helper("bpf_ringbuf_reserve")
def ringbuf_reserve(vm: Any, handle: int, size: int, flags: int, *_: int) -> int:
    """A zeroed record the program fills in place, then submits or discards."""
    ring = _map(vm, handle)
    if flags or size == 0 or (size + 8 + 7) & ~7 > ring.max_entries - ring.used:
        return 0
    record = bytearray(size)
    address = vm.memory.map(record, writable=True, name=f"record in ring buffer {ring.name!r}")
    vm.__dict__.setdefault("reserved", {})[address] = (ring, record)
    ring.used += (size + 8 + 7) & ~7
    return address


def release_reservations(vm: Any) -> None:
    """Discard the ring buffer records a run reserved and never submitted or discarded,
    so their space is not lost for good (the kernel's verifier refuses such programs;
    the vm engine has no verifier yet, so it cleans up when the program exits)."""
    for address in list(vm.__dict__.get("reserved", {})):
        _finish(vm, address, False)


def _finish(vm: Any, address: int, keep: bool) -> int:
    reserved = vm.__dict__.setdefault("reserved", {})
    if address not in reserved:
        raise VMError(f"0x{address:x} is not a ring buffer record this program reserved")
    ring, record = reserved.pop(address)
    vm.memory.unmap(address)
    ring.used -= (len(record) + 8 + 7) & ~7
    if keep:
        ring.output(bytes(record))
    return 0


@helper("bpf_ringbuf_submit")
def ringbuf_submit(vm: Any, address: int, flags: int, *_: int) -> int:
    return _finish(vm, address, True)


@helper("bpf_ringbuf_discard")
def ringbuf_discard(vm: Any, address: int, flags: int, *_: int) -> int:
    return _finish(vm, address, False)


@helper("bpf_perf_event_output")
def perf_event_output(vm: Any, ctx: int, handle: int, flags: int, data: int, size: int) -> int:
    """A sample for the perf event array's slot ``flags & 0xffffffff`` (this CPU's for
    BPF_F_CURRENT_CPU), kept on the map for userspace (``map.samples``, read by ``pybpf.Events``)."""
    target = _map(vm, handle)
    if target.type != MapType.PERF_EVENT_ARRAY:      # the kernel's verifier refuses such a call
        return _errno(-errno.EINVAL)
    index = flags & 0xFFFF_FFFF
    cpu = vm.cpu if index == 0xFFFF_FFFF else index
    if flags >> 32 or cpu >= target.max_entries:
        return _errno(-errno.E2BIG if not flags >> 32 else -errno.EINVAL)
    target.output(cpu, vm.memory.read_bytes(data, size))
    return 0


@helper("bpf_skb_load_bytes")
def skb_load_bytes(vm: Any, skb: int, offset: int, to: int, length: int, *_: int) -> int:
    """Copy packet bytes to the program's buffer; -EFAULT past the end."""
    from pybpf.vm.memory import INPUT_BASE

    try:
        data = vm.memory.read_bytes(INPUT_BASE + (offset & 0xFFFF_FFFF), length)
    except VMError:
        return _errno(-errno.EFAULT)
    vm.memory.write_bytes(to, data)
    return 0


def _frame(vm: Any) -> Any:
    frame = vm.__dict__.get("xdp_frame")
    if frame is None:
        raise VMError("bpf_xdp_adjust_head/tail need an XDP program's context")
    return frame


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >> 31 else value


@helper("bpf_xdp_adjust_head")
def xdp_adjust_head(vm: Any, ctx: int, delta: int, *_: int) -> int:
    """Move the packet's start by ``delta`` (negative: grow into the headroom)."""
    return _errno(_frame(vm).adjust_head(_signed32(delta)))


@helper("bpf_xdp_adjust_tail")
def xdp_adjust_tail(vm: Any, ctx: int, delta: int, *_: int) -> int:
    """Move the packet's end by ``delta`` (positive: grow into the tailroom, zeroed)."""
    return _errno(_frame(vm).adjust_tail(_signed32(delta)))


@helper("bpf_get_stackid")
def get_stackid(vm: Any, ctx: int, handle: int, flags: int, *_: int) -> int:
    """The vm's stack is its bpf-to-bpf call chain: the current instruction's slot and
    each calling frame's return slot, innermost first, as addresses."""
    slots = [vm.program.slots[vm.calling]] + [vm.program.slots[f.return_to - 1] for f in reversed(vm.frames)]
    return _errno(_map(vm, handle).record(slots))


def _probe_read(vm: Any, dst: int, size: int, src: int, string: bool) -> int:
    """bpf_probe_read_*: copy from any vm memory; a fault gives -EFAULT and a zeroed buffer.

    ``size`` is a u32, as the helper's prototype says, and the destination must hold it
    (checked before anything is read or allocated: the kernel's verifier guarantees it).
    The ``_str`` forms copy up to ``size - 1`` bytes and a NUL, stopping after the source's
    NUL, and return the bytes written including the NUL — a longer source is cut, as in
    the kernel, not refused."""
    if dst is None or size is None or src is None:
        raise TypeError("an argument register is not written")   # reported as an uninitialised register
    size &= 0xFFFF_FFFF
    vm.memory.check(dst, size, True)
    if string and size == 0:
        return 0
    try:
        data = _read_string(vm, src, size) if string else vm.memory.read_bytes(src, size)
    except VMError:
        vm.memory.write_bytes(dst, bytes(size))
        return _errno(-errno.EFAULT)
    vm.memory.write_bytes(dst, data)
    return len(data) if string else 0


def _read_string(vm: Any, src: int, size: int) -> bytes:
    """What a ``_str`` probe read copies: the source up to its NUL, at most ``size - 1``
    bytes, then a NUL (VMError when the source ends before either)."""
    try:
        raw = vm.memory.read_bytes(src, size - 1)
    except VMError:                 # the region ends first: the string must end inside it
        return vm.memory.read_string(src, size) + b"\0"
    end = raw.find(b"\0")
    return raw[:end + 1] if end >= 0 else raw + b"\0"


@helper("bpf_probe_read_user")
def probe_read_user(vm: Any, dst: int, size: int, src: int, *_: int) -> int:
    return _probe_read(vm, dst, size, src, False)


@helper("bpf_probe_read_kernel")
def probe_read_kernel(vm: Any, dst: int, size: int, src: int, *_: int) -> int:
    return _probe_read(vm, dst, size, src, False)


@helper("bpf_probe_read_user_str")
def probe_read_user_str(vm: Any, dst: int, size: int, src: int, *_: int) -> int:
    return _probe_read(vm, dst, size, src, True)


@helper("bpf_probe_read_kernel_str")
def probe_read_kernel_str(vm: Any, dst: int, size: int, src: int, *_: int) -> int:
    return _probe_read(vm, dst, size, src, True)

# the task helpers reuse _probe_read above; importing them here registers them with the rest
from pybpf.vm import task_helpers as _task_helpers  # noqa: E402,F401
