"""bpf_timer in the vm: the timers programs arm with bpf_timer_init / set_callback /
start, and when their callbacks run.

The kernel keeps a timer's state outside the map value (the value's ``struct bpf_timer``
only points to it) and runs its callback from a softirq when the hrtimer expires. The vm
has no softirq: the value's timer field holds the number of a :class:`Timer` in
:data:`TIMERS` (userspace reads the field as zero, as from the kernel), and callbacks
whose deadline has passed run

- after each vm test run (:meth:`pybpf.vm.engine.VmProgram.test_run`) and each native
  batch of packets (:class:`pybpf.vm.engine.PacketBatches`), and
- whenever :func:`run_timers` is called (``later_ns`` runs those due within that many
  nanoseconds from now, as if that much time had passed: tests need not sleep).

A callback runs on the interpreter as the kernel calls it: ``callback(map, &key, &value)``
on the element holding the timer, in a frame of its own; its return value is ignored. A
timer whose element was deleted or replaced (a hash update puts a new element in the
key's place), or whose map was closed, is cancelled, as the kernel frees it with the
element.
"""

from __future__ import annotations

import _thread
import errno
import itertools
import time
import weakref

from pybpf.vm.constants import MAP_HANDLE_BASE

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: the clocks bpf_timer_init accepts (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME)
CLOCKS = {0: time.CLOCK_REALTIME, 1: time.CLOCK_MONOTONIC, 7: time.CLOCK_BOOTTIME}
#: bpf_timer_start's flags: BPF_F_TIMER_ABS (nsecs is an absolute time of the timer's
#: clock) and BPF_F_TIMER_CPU_PIN (meaningless in the vm)
TIMER_ABS, TIMER_CPU_PIN = 1, 2
_ID_BYTES = 8


@dataclass(eq=False)
class Timer:
    """One initialised timer: the element it lives in and what it will run."""

    number: int
    map: weakref.ReferenceType[Any]
    key: bytes
    #: the element's value storage (the buffer programs point into) and the field's offset
    value: Any
    offset: int
    clock: int
    cpu: int
    #: the program (a CheckedProgram) whose function is the callback, and its instruction
    program: Any = None
    callback: int | None = None
    #: when it fires, in ns of its clock (None: not armed)
    deadline: int | None = None

    def alive(self) -> bool:
        """Whether the element still holds this timer (not deleted, replaced, closed)."""
        target = self.map()
        if target is None or getattr(target, "_closed", False):
            return False
        try:
            storage = target._storage(self.key)
        except Exception:   # noqa: BLE001 - the map is gone in some other way
            return False
        return storage is self.value and bytes(self.value[self.offset:self.offset + _ID_BYTES]) == _encode(self.number)


_numbers = itertools.count(1)
#: the live timers by number (what a value's timer field holds)
TIMERS: dict[int, Timer] = {}
# threading.Lock and threading.local, without importing threading (~1 ms of a vm start-up)
_TABLE_LOCK = _thread.allocate_lock()
_running = _thread._local()


def _encode(number: int) -> bytes:
    return number.to_bytes(_ID_BYTES, "little")


def now(clock: int) -> int:
    """The time of a bpf_timer clock id in ns."""
    return time.clock_gettime_ns(CLOCKS[clock])


def _locate(vm: Any, address: int, target: Any) -> tuple[bytes, Any, int] | None:
    """The (key, value storage, offset of the timer in it) of the map element of
    ``target`` that the program's pointer ``address`` points into (None: not there)."""
    data, offset = _place(vm, address, target)
    entries = getattr(target, "entries", None)           # a hash map's, else an array's slots
    pairs = entries.items() if entries is not None else \
        ((index.to_bytes(4, "little"), slot) for index, slot in enumerate(target.slots))
    for key, storage in pairs:
        if storage is data:
            return key, data, offset
    return None


def _place(vm: Any, address: int, target: Any) -> tuple[Any, int]:
    """The value storage of ``target`` that the program's pointer ``address`` points
    into (or the region's buffer, for a value of another map) and the offset in it."""
    region, offset = vm.memory.region(address, 16, True, access=False)
    data = region.data
    if any(data is block for block in getattr(target, "blocks", ())):   # a whole array mapped at once
        index, offset = divmod(offset, target.element_stride)
        return target.slots[index], offset
    return data, offset


def timer_at(vm: Any, address: int) -> Timer | None:
    """The live timer whose field is at the program's pointer ``address`` (None: not
    initialised; a number copied into another element does not make a timer there)."""
    number = int.from_bytes(vm.memory.read_bytes(address, _ID_BYTES), "little")
    with _TABLE_LOCK:
        timer = TIMERS.get(number)
    if timer is None or not timer.alive():
        return None
    target = timer.map()
    if target is None:
        return None
    place, offset = _place(vm, address, target)
    return timer if place is timer.value and offset == timer.offset else None


def init(vm: Any, address: int, target: Any, flags: int) -> int:
    """bpf_timer_init: 0, -EINVAL (a clock it does not take), -EBUSY (initialised)."""
    if flags not in CLOCKS:
        return -errno.EINVAL
    if timer_at(vm, address) is not None:
        return -errno.EBUSY
    found = _locate(vm, address, target)
    if found is None:
        return -errno.EINVAL
    key, storage, offset = found
    timer = Timer(next(_numbers), weakref.ref(target), key, storage, offset, flags, vm.cpu)
    vm.memory.write_bytes(address, _encode(timer.number))
    with _TABLE_LOCK:
        _purge()
        TIMERS[timer.number] = timer
    return 0


def set_callback(vm: Any, address: int, function: int) -> int:
    """bpf_timer_set_callback: 0, or -EINVAL for a timer not initialised."""
    timer = timer_at(vm, address)
    if timer is None:
        return -errno.EINVAL
    timer.program, timer.callback = vm.program, function
    return 0


def start(vm: Any, address: int, nsecs: int, flags: int) -> int:
    """bpf_timer_start: arm the timer ``nsecs`` from now (or at ``nsecs`` with
    BPF_F_TIMER_ABS); -EINVAL for other flags or a timer without a callback."""
    if flags & ~(TIMER_ABS | TIMER_CPU_PIN):
        return -errno.EINVAL
    timer = timer_at(vm, address)
    if timer is None or timer.callback is None:
        return -errno.EINVAL
    timer.deadline = nsecs if flags & TIMER_ABS else now(timer.clock) + nsecs
    return 0


def cancel(vm: Any, address: int) -> int:
    """bpf_timer_cancel: 1 if the timer was armed, 0 if not; -EINVAL for a timer not
    initialised, -EDEADLK from the timer's own callback."""
    timer = timer_at(vm, address)
    if timer is None:
        return -errno.EINVAL
    if getattr(_running, "timer", None) is timer:
        return -errno.EDEADLK
    armed, timer.deadline = timer.deadline is not None, None
    return int(armed)


def _purge() -> None:
    """Forget timers whose elements are gone (called with the table locked)."""
    for number in [n for n, t in TIMERS.items() if not t.alive()]:
        del TIMERS[number]


def run_timers(later_ns: int = 0) -> int:
    """Run the callbacks of the armed timers due by now + ``later_ns``, earliest first;
    how many ran. A callback that arms a timer again (or another) is not run again in
    the same call, even when due: call again to run it."""
    if not TIMERS:
        return 0
    with _TABLE_LOCK:
        _purge()
        due = sorted((t for t in TIMERS.values()
                      if t.deadline is not None and t.deadline <= now(t.clock) + later_ns),
                     key=lambda t: t.deadline or 0)
    ran = 0
    for timer in due:
        if timer.deadline is None or not timer.alive():   # cancelled or freed by an earlier callback
            continue
        timer.deadline = None
        _fire(timer)
        ran += 1
    return ran


def pending() -> int:
    """How many timers are armed."""
    with _TABLE_LOCK:
        _purge()
        return sum(1 for t in TIMERS.values() if t.deadline is not None)


def _fire(timer: Timer) -> None:
    """Run ``timer``'s callback as the kernel does: ``callback(map, &key, &value)``."""
    from pybpf.vm import locking
    from pybpf.vm.helpers.events import release_reservations
    from pybpf.vm.helpers.maps import value_pointer
    from pybpf.vm.interpreter import Machine

    target = timer.map()
    if target is None or timer.callback is None:
        return
    machine = Machine(timer.program, cpu=timer.cpu)
    key = machine.memory.map(bytearray(timer.key), writable=False, name=f"key in map {target.name!r}")
    value = value_pointer(machine, timer.value, f"value in map {target.name!r}")
    _running.timer = timer
    try:
        machine.call_function(timer.callback, MAP_HANDLE_BASE + target.id, key, value)
    finally:
        _running.timer = None
        release_reservations(machine)
        locking.release_held(machine)
