"""What a helper family is: a named table of helper id → implementation that a family
module fills with its decorator. Nothing here is global: :mod:`pybpf.vm.helpers` merges
the families' tables into the registry the vm uses, in one place.

A helper is called with the running VM and r1-r5 and returns the new r0. Arguments are
unsigned 64-bit values; pointers are vm addresses, read through ``vm.memory``.
"""

from __future__ import annotations

from collections.abc import Callable

from pybpf.isa.helpers import helper_id

Helper = Callable[..., int]


def kernel_helper_id(name: str) -> int:
    """The kernel's id of the helper called ``name`` (ValueError for any other name)."""
    number = helper_id(name)
    if number is None:
        raise ValueError(f"{name} is not a kernel helper")
    return number


class Family:
    """The helpers of one family module, by id: ``@FAMILY.helper("bpf_...")`` records the
    decorated function in :attr:`table` and returns it unchanged."""

    def __init__(self, name: str):
        self.name = name
        self.table: dict[int, Helper] = {}

    def helper(self, name: str) -> Callable[[Helper], Helper]:
        """Record the decorated function as the kernel helper called ``name``."""
        return self.at(kernel_helper_id(name))

    def at(self, number: int) -> Callable[[Helper], Helper]:
        """Record the decorated function as what a call of helper id ``number`` runs."""
        def record(fn: Helper) -> Helper:
            if number in self.table:
                raise ValueError(f"helper {number} is defined twice in the {self.name} family")
            self.table[number] = fn
            return fn
        return record
