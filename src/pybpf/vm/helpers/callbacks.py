"""The helpers that call back into the program: bpf_loop (a bounded loop as a helper, the
callback run once per iteration) and bpf_for_each_map_elem (the callback run on every
element of a map). The callback is one of the program's functions, run in a frame of its
own by the interpreter (:meth:`pybpf.vm.interpreter.Machine.call_function`); the JIT
leaves programs that call these helpers to the interpreter."""

from __future__ import annotations

import errno

from pybpf.vm.constants import M64
from pybpf.vm.errors import VMError
from pybpf.vm.helpers.maps import value_pointer
from pybpf.vm.helpers.operands import errno_result, map_operand
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("callbacks")

#: the most iterations bpf_loop runs (the kernel's BPF_MAX_LOOPS)
MAX_LOOPS = 1 << 23


def _call(vm: Any, function: int, *args: int) -> int:
    call = getattr(vm, "call_function", None)
    if call is None:
        raise VMError("callbacks run on the interpreter: run this program with jit=False")
    return call(function, *args)


@FAMILY.helper("bpf_loop")
def loop(vm: Any, count: int, function: int, context: int, flags: int, *_: int) -> int:
    """Call ``function(i, context)`` for i = 0, 1, ... ``count`` - 1 until it returns
    nonzero; the number of calls made."""
    count &= 0xFFFF_FFFF
    if flags:
        return errno_result(-errno.EINVAL)
    if count > MAX_LOOPS:
        # the kernel's verifier inlines bpf_loop calls with flags 0, and its inlined code
        # sets -E2BIG with a 32-bit move: the program sees it zero-extended
        return -errno.E2BIG & 0xFFFF_FFFF
    for i in range(count):
        if _call(vm, function, i, context) & M64:
            return i + 1
    return count


@FAMILY.helper("bpf_for_each_map_elem")
def for_each_map_elem(vm: Any, handle: int, function: int, context: int, flags: int, *_: int) -> int:
    """Call ``function(map, &key, &value, context)`` on each element (this CPU's value
    of a per-CPU map) until it returns nonzero; the number of elements visited."""
    if flags:
        return errno_result(-errno.EINVAL)
    target = map_operand(vm, handle)
    visited, key = 0, target._next_key(None)
    while key is not None:
        following = target._next_key(key)          # before the callback may delete this one
        buffer = target.value_buffer(key, vm.cpu)
        if buffer is not None:
            key_address = vm.memory.map(bytearray(key), writable=False, name=f"key in map {target.name!r}")
            try:
                visited += 1
                stop = _call(vm, function, handle, key_address,
                             value_pointer(vm, buffer, f"value in map {target.name!r}"), context)
            finally:
                vm.memory.unmap(key_address)
            if stop & M64:
                break
        key = following
    return visited
