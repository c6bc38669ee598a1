"""The states kept at a checkpoint (a ``may_goto``, a helper call that calls a callback),
found by their constants and with their miss counts kept lazily.

At a checkpoint every arriving state is compared with the states kept there, and each
kept state compared in vain counts a miss; one that misses far more often than it hits
is dropped (as the kernel's ``is_state_visited`` evicts by ``miss_cnt``/``hit_cnt``: 3
misses per hit, 64 while its continuations are still being explored). A ``may_goto``
loop keeps a state per iteration, so a plain list makes every iteration touch all of
them. Here:

- a state can only contain one whose constant registers include all of its own
  (``Snapshot.consts``), so states are filed under their first constant: only those
  filed under a constant of the arriving state (or under none) are compared;
- a scan counts one miss for every state at once (``scans``); a state's own ``misses``
  hold what was counted up to ``mark`` (the scan when it was last settled), and a state
  after the one that was hit gets its uncounted miss back;
- the scan at which a state's misses first exceed its limit (its ``deadline``) is in a
  heap: a scan drops exactly the states whose deadline has passed, as comparing each
  state's counts with its limit after every scan would.

Verdicts, processed instruction counts and the states kept are those of the plain list.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


class KeptStates:
    """The snapshots kept at one checkpoint, in the order they were kept."""

    def __init__(self) -> None:
        self.order: dict[Any, None] = {}
        #: first constant (``const_key[0]``; None: no constant) → the snapshots filed there
        self.by_const: dict[Any, dict[Any, None]] = {}
        #: scans so far: each counted a miss for every snapshot (see settle)
        self.scans = 0
        #: (scan after which the snapshot is dropped, push number, snapshot)
        self.deadlines: list[tuple[int, int, Any]] = []
        self.sequence = self.pushes = 0

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.order)

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self.order)

    def append(self, snap: Any) -> None:
        self.sequence += 1
        snap.sequence, snap.kept, snap.mark = self.sequence, self, self.scans
        self.order[snap] = None
        self.by_const.setdefault(snap.const_key[0] if snap.const_key else None, {})[snap] = None
        self.reschedule(snap)

    def settle(self, snap: Any) -> None:
        """Count in ``snap.misses`` the misses of the scans since it was last settled."""
        snap.misses += self.scans - snap.mark
        snap.mark = self.scans

    def reschedule(self, snap: Any) -> None:
        """After a settled snapshot's counts (or its branches) changed: when it is dropped."""
        n = 64 if snap.branches else 3
        snap.deadline = snap.hits * n + n - snap.misses + snap.mark
        self.pushes += 1
        heapq.heappush(self.deadlines, (snap.deadline, self.pushes, snap))

    def scan(self, state: Any, live: tuple[int, ...], consts: frozenset, other_depth: bool) -> bool:
        """Whether a kept snapshot contains ``state`` (its live registers ``live``, its
        constants ``consts``; ``other_depth``: only snapshots of another may_goto depth
        count); the earliest such is hit, those kept before it miss."""
        self.scans += 1
        depth = state.may_goto_depth
        by_const = self.by_const
        candidates = [snap for key in (None, *consts) for snap in by_const.get(key, ())]
        if len(candidates) > 1:
            candidates.sort(key=_sequence)
        hit = None
        for snap in candidates:
            if ((not other_depth or snap.state.may_goto_depth != depth) and snap.consts <= consts
                    and snap.state.contains(state, live)):
                hit = snap
                break
        if hit is not None:
            hit.hits += 1
            for snap in reversed(self.order):     # the hit and those after it missed nothing
                self.settle(snap)
                snap.misses -= 1
                self.reschedule(snap)
                if snap is hit:
                    break
        deadlines, scans = self.deadlines, self.scans
        while deadlines and deadlines[0][0] < scans:
            deadline, _, snap = heapq.heappop(deadlines)
            if snap.kept is self and snap.deadline == deadline:
                self.settle(snap)
                snap.kept = None
                del self.order[snap]
                del by_const[snap.const_key[0] if snap.const_key else None][snap]
        return hit is not None


def _sequence(snap: Any) -> int:
    return snap.sequence
