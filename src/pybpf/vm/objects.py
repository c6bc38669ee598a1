"""The ids of the vm's maps and programs, and the registry that finds a live one by id (a
program array's slots and a map of maps hold ids, as the kernel's hold references), in a
module of its own: a program loaded without maps registers here without the map classes
(:mod:`pybpf.vm.maps`, ~0.6 ms of ``pybpf run``)."""

from __future__ import annotations

import itertools
import weakref

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

_ids = itertools.count(1)
#: live vm objects (maps and programs) by id, as prog arrays and maps of maps refer to them
OBJECTS: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def new_id(obj: Any) -> int:
    """A fresh id for a vm map or program, registered for lookups by id."""
    number = next(_ids)
    OBJECTS[number] = obj
    return number
