"""The helpers that send records to userspace: ring buffer output and reserve/submit/
discard, and perf_event_output into a perf event array. Return codes are the kernel's:
0 or a negative errno."""

from __future__ import annotations

import errno

from pybpf.object import MapType
from pybpf.vm.errors import VMError
from pybpf.vm.helpers.operands import charge_copy, errno_result, map_operand
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("events")


def _record_space(size: int) -> int:
    """Ring buffer bytes a record of ``size`` takes: an 8-byte header, rounded up to 8."""
    return (size + 8 + 7) & ~7


@FAMILY.helper("bpf_ringbuf_output")
def ringbuf_output(vm: Any, handle: int, data: int, size: int, flags: int, *_: int) -> int:
    charge_copy(vm, size)
    return errno_result(map_operand(vm, handle).output(vm.memory.read_bytes(data, size)))


@FAMILY.helper("bpf_ringbuf_reserve")
def ringbuf_reserve(vm: Any, handle: int, size: int, flags: int, *_: int) -> int:
    """A zeroed record the program fills in place, then submits or discards."""
    ring = map_operand(vm, handle)
    if flags or size == 0 or _record_space(size) > ring.max_entries - ring.used:
        return 0
    charge_copy(vm, size)      # the zeroed record, and its copy out at submit
    record = bytearray(size)
    address = vm.memory.map(record, writable=True, name=f"record in ring buffer {ring.name!r}")
    vm.__dict__.setdefault("reserved", {})[address] = (ring, record)
    ring.used += _record_space(size)
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
    ring.used -= _record_space(len(record))
    if keep:
        ring.output(bytes(record))
    return 0


@FAMILY.helper("bpf_ringbuf_submit")
def ringbuf_submit(vm: Any, address: int, flags: int, *_: int) -> int:
    return _finish(vm, address, True)


@FAMILY.helper("bpf_ringbuf_discard")
def ringbuf_discard(vm: Any, address: int, flags: int, *_: int) -> int:
    return _finish(vm, address, False)


@FAMILY.helper("bpf_perf_event_output")
def perf_event_output(vm: Any, ctx: int, handle: int, flags: int, data: int, size: int) -> int:
    """A sample for the perf event array's slot ``flags & 0xffffffff`` (this CPU's for
    BPF_F_CURRENT_CPU), kept on the map for userspace (``map.samples``, read by ``pybpf.Events``)."""
    target = map_operand(vm, handle)
    if target.type != MapType.PERF_EVENT_ARRAY:      # the kernel's verifier refuses such a call
        return errno_result(-errno.EINVAL)
    index = flags & 0xFFFF_FFFF
    cpu = vm.cpu if index == 0xFFFF_FFFF else index
    if flags >> 32 or cpu >= target.max_entries:
        return errno_result(-errno.E2BIG if not flags >> 32 else -errno.EINVAL)
    charge_copy(vm, size)
    target.output(cpu, vm.memory.read_bytes(data, size))
    return 0
