"""The base helpers any program may call — time, random numbers, the CPU — and what an
instruction poisoned by a failed CO-RE relocation calls."""

from __future__ import annotations

import time

from pybpf.isa.helpers import POISON_HELPER
from pybpf.vm.errors import VMError
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("misc")


@FAMILY.helper("bpf_ktime_get_ns")
def ktime_get_ns(vm: Any, *_: int) -> int:
    """Monotonic time in nanoseconds, as the kernel's CLOCK_MONOTONIC."""
    return time.monotonic_ns()


@FAMILY.helper("bpf_get_prandom_u32")
def get_prandom_u32(vm: Any, *_: int) -> int:
    """A pseudo-random 32-bit number."""
    import random  # (here: random imports math, bisect and hashlib's _sha512 for a helper few programs call)

    return random.getrandbits(32)


@FAMILY.helper("bpf_get_smp_processor_id")
def get_smp_processor_id(vm: Any, *_: int) -> int:
    """The CPU the program runs on: the vm's configured CPU."""
    return vm.cpu


@FAMILY.at(POISON_HELPER)
def poisoned(vm: Any, *_: int) -> int:
    """What an instruction poisoned by a CO-RE relocation that could not be applied calls:
    the kernel refuses such a program when the instruction is reachable; the vm stops when
    it is reached."""
    raise VMError("reached an instruction poisoned by a CO-RE relocation that could not be applied "
                  "(call of helper 0xbad2310)")
