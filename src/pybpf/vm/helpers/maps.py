"""The map element helpers: lookup (a pointer into the map's own value buffer), update,
delete, push/pop/peek for queues and stacks, and get_stackid for stack trace maps.
Return codes are the kernel's: 0 or a negative errno."""

from __future__ import annotations

import errno

from pybpf.vm.helpers.operands import charge_copy, errno_result, map_operand
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("maps")


def value_pointer(vm: Any, buffer: bytearray, what: str) -> int:
    """The program-visible address of a map value buffer (mapped once per run)."""
    mapped = vm.__dict__.setdefault("mapped_values", {})
    key = id(buffer)
    if key not in mapped:
        mapped[key] = (vm.memory.map(buffer, writable=True, name=what), buffer)
    return mapped[key][0]


@FAMILY.helper("bpf_map_lookup_elem")
def map_lookup_elem(vm: Any, handle: int, key: int, *_: int) -> int:
    target = map_operand(vm, handle)
    charge_copy(vm, target.key_size)
    buffer = target.value_buffer(vm.memory.read_bytes(key, target.key_size), vm.cpu)
    return 0 if buffer is None else value_pointer(vm, buffer, f"value in map {target.name!r}")


@FAMILY.helper("bpf_map_lookup_percpu_elem")
def map_lookup_percpu_elem(vm: Any, handle: int, key: int, cpu: int, *_: int) -> int:
    """A per-CPU map's value for ``cpu`` (NULL for a CPU the map has no slot for)."""
    target = map_operand(vm, handle)
    charge_copy(vm, target.key_size)
    if cpu & 0xFFFF_FFFF >= target.ncpus:
        return 0
    buffer = target.value_buffer(vm.memory.read_bytes(key, target.key_size), cpu & 0xFFFF_FFFF)
    return 0 if buffer is None else value_pointer(vm, buffer, f"value in map {target.name!r}")


@FAMILY.helper("bpf_map_update_elem")
def map_update_elem(vm: Any, handle: int, key: int, value: int, flags: int, *_: int) -> int:
    target = map_operand(vm, handle)
    charge_copy(vm, target.key_size + target.value_size)
    return errno_result(target.helper_update(vm.memory.read_bytes(key, target.key_size),
                                             vm.memory.read_bytes(value, target.value_size), flags, vm.cpu))


@FAMILY.helper("bpf_map_delete_elem")
def map_delete_elem(vm: Any, handle: int, key: int, *_: int) -> int:
    target = map_operand(vm, handle)
    charge_copy(vm, target.key_size)
    return errno_result(target.helper_delete(vm.memory.read_bytes(key, target.key_size)))


@FAMILY.helper("bpf_map_push_elem")
def map_push_elem(vm: Any, handle: int, value: int, flags: int, *_: int) -> int:
    target = map_operand(vm, handle)
    charge_copy(vm, target.value_size)
    try:
        target._push(vm.memory.read_bytes(value, target.value_size), flags)
    except Exception as exc:  # BPFError: the map refused
        return errno_result(-getattr(exc, "errno", errno.EINVAL))
    return 0


def _take(vm: Any, handle: int, value: int, pop: bool) -> int:
    target = map_operand(vm, handle)
    charge_copy(vm, target.value_size)
    data = target._pop() if pop else target._peek()
    if data is None:
        return errno_result(-errno.ENOENT)
    vm.memory.write_bytes(value, data)
    return 0


@FAMILY.helper("bpf_map_pop_elem")
def map_pop_elem(vm: Any, handle: int, value: int, *_: int) -> int:
    return _take(vm, handle, value, True)


@FAMILY.helper("bpf_map_peek_elem")
def map_peek_elem(vm: Any, handle: int, value: int, *_: int) -> int:
    return _take(vm, handle, value, False)


@FAMILY.helper("bpf_get_stackid")
def get_stackid(vm: Any, ctx: int, handle: int, flags: int, *_: int) -> int:
    """The vm's stack is its bpf-to-bpf call chain: the current instruction's slot and
    each calling frame's return slot, innermost first, as addresses."""
    slots = [vm.program.slots[vm.calling]] + [vm.program.slots[f.return_to - 1] for f in reversed(vm.frames)]
    return errno_result(map_operand(vm, handle).record(slots))
