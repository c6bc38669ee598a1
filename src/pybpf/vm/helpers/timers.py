"""bpf_timer_init / set_callback / start / cancel on a ``struct bpf_timer`` in a map value
(the timers themselves, and when their callbacks run: :mod:`pybpf.vm.timers`)."""

from __future__ import annotations

from pybpf.vm import timers
from pybpf.vm.helpers.operands import errno_result, map_operand
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("timers")


@FAMILY.helper("bpf_timer_init")
def timer_init(vm: Any, timer: int, handle: int, flags: int, *_: int) -> int:
    return errno_result(timers.init(vm, timer, map_operand(vm, handle), flags))


@FAMILY.helper("bpf_timer_set_callback")
def timer_set_callback(vm: Any, timer: int, function: int, *_: int) -> int:
    return errno_result(timers.set_callback(vm, timer, function))


@FAMILY.helper("bpf_timer_start")
def timer_start(vm: Any, timer: int, nsecs: int, flags: int, *_: int) -> int:
    return errno_result(timers.start(vm, timer, nsecs, flags))


@FAMILY.helper("bpf_timer_cancel")
def timer_cancel(vm: Any, timer: int, *_: int) -> int:
    return errno_result(timers.cancel(vm, timer))
