"""bpf_tail_call through a program array: the helper raises :class:`TailCall`, which the
vm engine catches to run the target program in the caller's place. (``TailCall`` and
``MAX_TAIL_CALLS`` live in :mod:`pybpf.vm.errors` and :mod:`pybpf.vm.constants`, which
the engine imports for every run; this family only for a program that calls a helper.)"""

from __future__ import annotations

import errno

from pybpf.vm.constants import MAX_TAIL_CALLS
from pybpf.vm.errors import TailCall
from pybpf.vm.helpers.operands import errno_result, map_operand
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("tail calls")


@FAMILY.helper("bpf_tail_call")
def tail_call(vm: Any, ctx: int, handle: int, index: int, *_: int) -> int:
    target = map_operand(vm, handle).object_at(index & 0xFFFF_FFFF)
    if target is None or vm.__dict__.get("tail_calls_left", MAX_TAIL_CALLS) <= 0:
        return errno_result(-errno.ENOENT)   # an empty slot, or the 34th tail call: the caller carries on
    raise TailCall(target)
