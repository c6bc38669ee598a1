"""bpf_spin_lock / bpf_spin_unlock on a ``struct bpf_spin_lock`` in a map value: the
verifier proved the pointer is the value's lock field and that the program unlocks
before it exits or calls anything; the exclusion itself is :mod:`pybpf.vm.locking`'s."""

from __future__ import annotations

from pybpf.vm import locking
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("locks")


@FAMILY.helper("bpf_spin_lock")
def spin_lock(vm: Any, lock: int, *_: int) -> int:
    vm.memory.check(lock, 4, True)
    locking.acquire(vm)
    return 0


@FAMILY.helper("bpf_spin_unlock")
def spin_unlock(vm: Any, lock: int, *_: int) -> int:
    vm.memory.check(lock, 4, True)
    locking.release(vm)
    return 0
