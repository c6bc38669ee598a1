"""KeptStates (lazy miss counts, states filed by constant) against the plain list it
replaces: after any sequence of keeps, scans and finished snapshots, the same snapshots
are kept in the same order, with the same hit and miss counts, and every scan hits the
same one."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pybpf.verifier.kept import KeptStates


class FakeState:
    def __init__(self, ident: int = 0, depth: int = 0, within: frozenset = frozenset()):
        self.ident, self.may_goto_depth, self.within = ident, depth, within

    def contains(self, other: FakeState, live: tuple) -> bool:
        return self.ident in other.within


class FakeSnap:
    def __init__(self, ident: int, depth: int, const_key: tuple):
        self.state = FakeState(ident, depth)
        self.const_key, self.consts = const_key, frozenset(const_key)
        self.hits = self.misses = 0
        self.branches = 1
        self.kept, self.sequence, self.mark, self.deadline = None, 0, 0, 0


def plain_scan(snaps: list, state: FakeState, consts: frozenset, other_depth: bool) -> FakeSnap | None:
    """The checkpoint scan over a plain list: compare until a hit, then drop every
    snapshot past its limit (3 misses per hit, 64 while explored)."""
    hit = None
    for snap in snaps:
        if hit is None:
            if ((not other_depth or snap.state.may_goto_depth != state.may_goto_depth) and snap.consts <= consts
                    and snap.state.contains(state, ())):
                snap.hits += 1
                hit = snap
            else:
                snap.misses += 1
    snaps[:] = [snap for snap in snaps if snap.misses <= snap.hits * (n := 64 if snap.branches else 3) + n]
    return hit


CONSTS = [(0, 7, v) for v in range(4)] + [(0, 2, 0)]
SCAN = st.tuples(st.just("scan"), st.integers(0, 2), st.lists(st.sampled_from(CONSTS), max_size=3, unique=True),
                st.lists(st.integers(0, 8), max_size=4), st.booleans())
operation = st.one_of(
    SCAN, SCAN, SCAN,
    st.tuples(st.just("keep"), st.integers(0, 2), st.lists(st.sampled_from(CONSTS), max_size=2, unique=True)),
    st.tuples(st.just("finish"), st.integers(0, 8)),
    st.tuples(st.just("touch"), st.integers(0, 8), st.integers(0, 5)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=300))
@example([("keep", 0, []), ("finish", 0)] + [("scan", 1, [], [], False)] * 5)     # dropped at its 4th miss
def test_kept_states_match_the_plain_list(operations):
    plain: list = []
    kept = KeptStates()
    twins: dict[int, tuple[FakeSnap, FakeSnap]] = {}
    for op in operations:
        if op[0] == "keep":
            ident = len(twins)
            key = tuple(sorted(op[2]))
            a, b = FakeSnap(ident, op[1], key), FakeSnap(ident, op[1], key)
            twins[ident] = (a, b)
            plain.append(a)
            kept.append(b)
        elif op[0] == "scan":
            state = FakeState(depth=op[1], within=frozenset(op[3]))
            consts, other_depth = frozenset(op[2]), op[4]
            expected = plain_scan(plain, state, consts, other_depth)
            got = kept.scan(state, (), consts, other_depth)
            assert got == (expected is not None)
        elif op[1] in twins:
            a, b = twins[op[1]]
            if b.kept is not None:
                b.kept.settle(b)
            if op[0] == "finish":          # its continuations all explored
                a.branches = b.branches = 0
            else:                          # misses counted elsewhere (a list of finished states)
                a.misses += op[2]
                b.misses += op[2]
            if b.kept is not None:
                b.kept.reschedule(b)
        assert [snap.state.ident for snap in plain] == [snap.state.ident for snap in kept]
        for a in plain:
            b = twins[a.state.ident][1]
            kept.settle(b)
            assert (a.hits, a.misses) == (b.hits, b.misses)
