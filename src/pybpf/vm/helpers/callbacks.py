"""The helpers that call back into the program — bpf_loop and bpf_for_each_map_elem —
and bpf_map_lookup_percpu_elem, which programs iterating per-CPU maps read with. The
callback is a function of the program (``lddw rX, PSEUDO_FUNC`` gives its instruction
index) that the interpreter runs in a frame of its own (:meth:`Machine.call_function`);
as in the kernel, it returns 0 to go on and 1 to stop."""

from __future__ import annotations

import errno
from typing import Any

from pybpf.vm.errors import VMError
from pybpf.vm.helpers.maps import _pointer
from pybpf.vm.helpers.operands import errno_result, map_operand
from pybpf.vm.helpers.registry import Family

FAMILY = Family("callbacks")
MAX_LOOPS = 1 << 23   #: the kernel's BPF_MAX_LOOPS


def _caller(vm: Any) -> Any:
    if not hasattr(vm, "call_function"):
        raise VMError("helpers with callbacks run on the interpreter, not the JIT")
    return vm


@FAMILY.helper("bpf_loop")
def loop(vm: Any, count: int, callback: int, context: int, flags: int, *_: int) -> int:
    """Call ``callback(index, context)`` for index 0..count-1 until it returns 1; the
    number of calls made."""
    count &= 0xFFFF_FFFF
    if flags:
        return errno_result(-errno.EINVAL)
    if count > MAX_LOOPS:
        return errno_result(-errno.E2BIG)
    machine = _caller(vm)
    for index in range(count):
        if machine.call_function(callback, index, context) & 0xFFFF_FFFF:
            return index + 1
    return count


@FAMILY.helper("bpf_for_each_map_elem")
def for_each_map_elem(vm: Any, handle: int, callback: int, context: int, flags: int, *_: int) -> int:
    """Call ``callback(map, key, value, context)`` for each element (this CPU's value of a
    per-CPU map) until it returns 1; the number of elements visited."""
    if flags:
        return errno_result(-errno.EINVAL)
    machine = _caller(vm)
    target = map_operand(vm, handle)
    visited = 0
    for key in list(target._raw_keys()):
        value = target.value_buffer(key, vm.cpu)
        if value is None:
            continue
        key_buffer = bytearray(key)
        key_address = vm.memory.map(key_buffer, writable=False, name=f"key in map {target.name!r}")
        try:
            visited += 1
            stop = machine.call_function(callback, handle, key_address,
                                         _pointer(vm, value, f"value in map {target.name!r}"), context)
        finally:
            vm.memory.unmap(key_address)
        if stop & 0xFFFF_FFFF:
            break
    return visited


@FAMILY.helper("bpf_map_lookup_percpu_elem")
def map_lookup_percpu_elem(vm: Any, handle: int, key: int, cpu: int, *_: int) -> int:
    """A pointer to CPU ``cpu``'s value of a per-CPU map's element, or NULL."""
    target = map_operand(vm, handle)
    cpu &= 0xFFFF_FFFF
    if cpu >= target.cpu_count():
        return 0
    buffer = target.value_buffer(vm.memory.read_bytes(key, target.key_size), cpu)
    return 0 if buffer is None else _pointer(vm, buffer, f"value in map {target.name!r} of CPU {cpu}")
