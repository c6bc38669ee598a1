"""Helper functions a program may call, by the kernel's helper ids, and the registry
later parts of the engine (maps, ring buffers, contexts) add theirs to.

A helper is called with the running VM and r1-r5 and returns the new r0. Arguments are
unsigned 64-bit values; pointers are vm addresses, read through ``vm.memory``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

from pybpf.isa.helpers import helper_id
from pybpf.object.core import POISON_HELPER
from pybpf.vm.errors import VMError

Helper = Callable[..., int]
#: helper id → implementation
HELPERS: dict[int, Helper] = {}
_MASK = (1 << 64) - 1


def helper(name: str) -> Callable[[Helper], Helper]:
    """Register the decorated function as the kernel helper called ``name``."""
    number = helper_id(name)
    if number is None:
        raise ValueError(f"{name} is not a kernel helper")

    def register(fn: Helper) -> Helper:
        HELPERS[number] = fn
        return fn
    return register


@helper("bpf_ktime_get_ns")
def ktime_get_ns(vm: Any, *_: int) -> int:
    """Monotonic time in nanoseconds, as the kernel's CLOCK_MONOTONIC."""
    return time.monotonic_ns()


@helper("bpf_get_prandom_u32")
def get_prandom_u32(vm: Any, *_: int) -> int:
    """A pseudo-random 32-bit number."""
    return random.getrandbits(32)


@helper("bpf_get_smp_processor_id")
def get_smp_processor_id(vm: Any, *_: int) -> int:
    """The CPU the program runs on: the vm's configured CPU."""
    return vm.cpu


_CONVERSION = re.compile(r"%(?P<len>ll|l)?(?P<conv>[diuxXpsc%])")
#: bytes of bpf_trace_printk text a run keeps; what comes after is counted, not kept
MAX_OUTPUT = 64 * 1024
#: budget units of a bpf_trace_printk call on top of its call instruction, and the bytes
#: (format, %s strings, text written) that cost one more unit: about what the call costs
#: in time, measured in interpreted instructions (docs/vm.md, "Helper costs")
PRINTK_COST, PRINTK_BYTES_PER_UNIT = 128, 8


@helper("bpf_trace_printk")
def trace_printk(vm: Any, fmt: int, fmt_size: int, *args: int) -> int:
    """Format up to three arguments with the kernel's printk subset (%d %i %u %x %ld %lld
    %lu %llx %s %p %c) and append the text to the run's output; returns its length. The
    call is charged to the budget by the bytes it handles, and a run keeps at most
    MAX_OUTPUT bytes of text (a last line says how much more was dropped)."""
    if fmt_size <= 0 or fmt_size > 4096:
        raise VMError(f"bpf_trace_printk: format size {fmt_size} is not between 1 and 4096")
    raw = vm.memory.read_bytes(fmt, fmt_size).split(b"\0", 1)[0].decode("utf-8", "replace")
    values = list(args[:3])
    out = []
    position = 0
    for match in _CONVERSION.finditer(raw):
        out.append(raw[position:match.start()])
        position = match.end()
        conv = match["conv"]
        if conv == "%":
            out.append("%")
            continue
        if not values:
            raise VMError("bpf_trace_printk: more conversions than arguments (at most 3)")
        value = values.pop(0)
        bits = 64 if match["len"] else 32
        if conv in "di":
            value &= (1 << bits) - 1
            out.append(str(value - (1 << bits) if value >> (bits - 1) else value))
        elif conv == "u":
            out.append(str(value & ((1 << bits) - 1)))
        elif conv in "xX":
            text = f"{value & ((1 << bits) - 1):x}"
            out.append(text.upper() if conv == "X" else text)
        elif conv == "p":
            out.append(f"0x{value & _MASK:x}")
        elif conv == "c":
            out.append(chr(value & 0xFF))
        else:
            out.append(vm.memory.read_string(value).decode("utf-8", "replace"))
    out.append(raw[position:])
    text = "".join(out)
    size = len(text.encode())
    vm.charge(PRINTK_COST + (fmt_size + 2 * size) // PRINTK_BYTES_PER_UNIT)
    _keep_output(vm, text, size)
    return size


def _keep_output(vm: Any, text: str, size: int) -> None:
    """Append ``text`` to the run's output while it stays within MAX_OUTPUT bytes; past
    that, keep one last line that counts the bytes dropped."""
    kept = vm.__dict__.get("output_bytes", 0)
    if kept + size <= MAX_OUTPUT:
        vm.output.append(text)
        vm.__dict__["output_bytes"] = kept + size
        return
    dropped = vm.__dict__.get("output_dropped", 0) + size
    vm.__dict__["output_dropped"] = dropped
    notice = f"[pybpf: output beyond {MAX_OUTPUT} bytes dropped: {dropped} bytes]\n"
    if dropped == size:
        vm.output.append(notice)
    else:
        vm.output[-1] = notice


def _poisoned(vm: Any, *_: int) -> int:
    """What an instruction poisoned by a failed CO-RE relocation calls: the kernel refuses
    such a program when the instruction is reachable; the vm stops when it is reached."""
    raise VMError("reached an instruction poisoned by a CO-RE relocation that could not be applied "
                  "(call of helper 0xbad2310)")


HELPERS[POISON_HELPER] = _poisoned

# The map helpers register themselves here. Importing them at the end of this module
# (rather than from pybpf/vm/__init__.py, which imports nothing eagerly) keeps the
# registry complete whichever vm module is imported first: everything that reads
# HELPERS imports this module.
from pybpf.vm import map_helpers as _map_helpers  # noqa: E402,F401
