"""The helpers a program may call, by the kernel's helper ids: :data:`HELPERS`, the
registry the interpreter, the JIT and the load-time checks read.

Each family module (:mod:`.maps`, :mod:`.events`, ...) records its helpers in its own
``FAMILY`` table (:class:`.registry.Family`); the registry is those tables merged below,
in one place — importing a module registers nothing. :func:`helper` adds a user's own
helper to the registry.
"""

from __future__ import annotations

from collections.abc import Callable

from pybpf.vm.helpers import (
    callbacks,
    checksums,
    events,
    locks,
    maps,
    misc,
    packets,
    printk,
    probe_reads,
    tail_calls,
    task,
    timers,
)
from pybpf.vm.helpers.registry import Family, Helper, kernel_helper_id

#: the families whose helpers make up the registry
FAMILIES: tuple[Family, ...] = (misc.FAMILY, printk.FAMILY, maps.FAMILY, events.FAMILY, tail_calls.FAMILY,
                                packets.FAMILY, checksums.FAMILY, callbacks.FAMILY, probe_reads.FAMILY,
                                task.FAMILY, locks.FAMILY, timers.FAMILY)


def _merged(families: tuple[Family, ...]) -> dict[int, Helper]:
    """The families' tables as one (ValueError when two families define the same id)."""
    merged: dict[int, Helper] = {}
    for family in families:
        for number, fn in family.table.items():
            if number in merged:
                raise ValueError(f"helper {number} is defined by more than one family ({family.name})")
            merged[number] = fn
    return merged


#: helper id → implementation
HELPERS: dict[int, Helper] = _merged(FAMILIES)


def helper(name: str) -> Callable[[Helper], Helper]:
    """Register the decorated function as the kernel helper called ``name`` (replacing
    pybpf's own, if it has one), for every program run after."""
    number = kernel_helper_id(name)

    def register(fn: Helper) -> Helper:
        HELPERS[number] = fn
        return fn
    return register


__all__ = ["FAMILIES", "HELPERS", "Helper", "helper"]
