"""The optimizer's facts filed by value (:class:`pybpf.filter.optimizer.Facts`) answer as
the facts taken one at a time do: every fact holds for a concrete value, and what the
filed facts decide about a test, the candidates they leave and what several edges share
are checked against that value and against a plain set of fact tuples."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.cbpf import opcodes as c
from pybpf.filter.optimizer import IN, Facts, _candidates, _decided_by, _implied, _merge_facts, _test

OPS = [c.JEQ, c.JGT, c.JGE, c.JSET]
# constants near the values, so that tests are often decided
CONSTANTS = st.one_of(st.integers(0, 20), st.sampled_from([0xFFFF_FFFE, 0xFFFF_FFFF, 0x80, 0xFF]))
TESTS = st.lists(st.tuples(st.sampled_from(OPS), CONSTANTS), max_size=12)


def _facts_of(value_number: int, value: int, tests: list[tuple[int, int]]) -> tuple[Facts, set[tuple]]:
    """The facts ``value_number <op> k is <outcome>`` for ``value``: filed, and as tuples."""
    facts, plain = Facts(), set()
    for op, k in tests:
        fact = (value_number, op, k, _test(op, value, k))
        facts = facts.with_fact(fact)
        plain.add(fact)
    return facts, plain


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 24), TESTS, st.sampled_from(OPS), CONSTANTS)
def test_a_decided_test_is_decided_rightly_and_as_each_fact_decides(value, tests, op, k):
    facts, plain = _facts_of(7, value, tests)
    about = facts.about(7)
    decided = None if about is None else _decided_by(about, op, k)
    one_by_one = {_implied(op, k, fact_op, fact_k, holds) for _, fact_op, fact_k, holds in plain} - {None}
    assert len(one_by_one) <= 1                 # facts true of one value never disagree
    assert decided == (one_by_one.pop() if one_by_one else None)
    if decided is not None:
        assert decided == _test(op, value, k)
    assert facts.about(8) is None               # other values know nothing


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 24), min_size=1, max_size=4), TESTS)
def test_candidates_and_a_merge_of_edges(values, tests):
    """Edges that each left the value at one constant merge into a membership fact; the
    candidates it leaves are those every fact about the value allows."""
    edges = [_facts_of(3, value, [(c.JEQ, value)] + tests)[0] for value in values]
    merged = _merge_facts(edges)
    about = merged.about(3)
    assert about is not None and about[3] is not None
    assert set(values) <= about[3]
    assert _candidates(3, merged) == sorted(set(values))
    shared = set.intersection(*(_facts_of(3, value, [(c.JEQ, value)] + tests)[1] for value in values))
    for fact in shared:                         # what every edge carried is kept
        _, op, k, holds = fact
        if op == c.JEQ:
            assert k in (about[0] if holds else about[1])
        else:
            assert (op, k, holds) in about[2]


def test_a_membership_fact_narrows_the_one_known():
    facts = Facts().with_fact((1, IN, frozenset({6, 17, 132}), True)).with_fact((1, IN, frozenset({6, 17}), True))
    assert _candidates(1, facts) == [6, 17]
    facts = facts.with_fact((1, c.JEQ, 6, False))
    assert _candidates(1, facts) == [17]
    assert Facts.common([facts, Facts().with_fact((1, c.JEQ, 6, False))]).about(1) == (
        frozenset(), frozenset({6}), frozenset(), None)
