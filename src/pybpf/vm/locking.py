"""The lock behind every ``struct bpf_spin_lock`` in vm map values.

The vm may run programs from several Python threads at once (``test_run`` from threads;
the JIT's native code and blocking helpers let threads interleave), and userspace may
update a value with ``BPF_F_LOCK`` meanwhile, so bpf_spin_lock must exclude for real.
One process-wide lock stands for all of them: the kernel's verifier lets a program hold
at most one spin lock at a time and call no helper that could wait while holding it, so
a single lock cannot deadlock, and it excludes at least whatever the per-address locks
of the kernel exclude (what a program can observe is the same; only unrelated values'
critical sections wait for each other, which under the GIL costs nothing measurable).

A run records that it holds the lock (``vm.__dict__["spin_lock_held"]``) so that a run
stopped by an error inside its critical section releases it (:func:`release_held`).
"""

from __future__ import annotations

import _thread

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

#: the lock every bpf_spin_lock and every BPF_F_LOCK copy takes
SPIN_LOCK = _thread.allocate_lock()     # (threading.Lock, without importing threading)
HELD = "spin_lock_held"


def acquire(vm: Any) -> None:
    """bpf_spin_lock for the run ``vm``."""
    SPIN_LOCK.acquire()
    vm.__dict__[HELD] = True


def release(vm: Any) -> None:
    """bpf_spin_unlock for the run ``vm`` (the verifier proved it holds the lock)."""
    if vm.__dict__.pop(HELD, False):
        SPIN_LOCK.release()


def release_held(vm: Any) -> None:
    """Release the lock if the run ``vm`` ended (by an error) while holding it."""
    if vm is not None:
        release(vm)
