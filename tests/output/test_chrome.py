"""Chrome trace-event JSON: pairs become durations, and every event is valid per the
trace-event format (the required keys and types of each phase, times in microseconds)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.output import ChromeTrace, OutputError

# The trace-event format's rules for the phases written here: required keys and types.
_COMMON = {"name": str, "ph": str, "pid": int, "tid": int}
_PHASES = {
    "X": {"ts": (int, float), "dur": (int, float), "cat": str},
    "i": {"ts": (int, float), "s": str, "cat": str},
    "C": {"ts": (int, float), "args": dict, "cat": str},
    "M": {"args": dict},
}


def validate(document: dict) -> None:
    """Raise AssertionError where ``document`` breaks the trace-event format."""
    assert set(document) <= {"traceEvents", "displayTimeUnit", "otherData", "metadata"}
    assert document.get("displayTimeUnit", "ms") in ("ms", "ns")
    for event in document["traceEvents"]:
        assert event["ph"] in _PHASES, event
        for key, kind in {**_COMMON, **_PHASES[event["ph"]]}.items():
            assert isinstance(event[key], kind), (key, event)
        if "dur" in event:
            assert event["dur"] >= 0
        if event["ph"] == "i":
            assert event["s"] in ("g", "p", "t")
        if event["ph"] == "C":
            assert all(isinstance(v, (int, float)) for v in event["args"].values())
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name", "process_sort_index", "thread_sort_index")


def test_pairs_counters_instants():
    trace = ChromeTrace()
    trace.process_name(10, "bash")
    trace.thread_name(10, 11, "bash-main")
    trace.begin("read", 1_000, pid=10, tid=11, args={"fd": 3})
    trace.begin("read", 1_500, pid=10, tid=11)                   # nested
    assert trace.end("read", 1_700, pid=10, tid=11)
    assert trace.end("read", 5_000, pid=10, tid=11, args={"ret": 42})
    assert not trace.end("write", 6_000, pid=10, tid=11)        # its entry was never seen
    trace.instant("exec", 2_000, pid=10, tid=11, args={"file": "/bin/ls"})
    trace.counter("runqueue", 3_000, {"cpu0": 2, "cpu1": 0.5})
    trace.begin("open", 7_000, pid=10, tid=12)
    assert trace.unfinished() == 1
    document = json.loads(trace.dumps())
    validate(document)
    durations = [(e["ts"], e["dur"], e.get("args")) for e in document["traceEvents"] if e["ph"] == "X"]
    assert sorted(durations, key=lambda d: d[0]) == [(1.0, 4.0, {"fd": 3, "ret": 42}), (1.5, 0.2, None)]
    assert [e["ph"] for e in document["traceEvents"]][:2] == ["M", "M"]
    times = [e["ts"] for e in document["traceEvents"] if e["ph"] != "M"]
    assert times == sorted(times)


def test_bad_events_refused():
    trace = ChromeTrace()
    with pytest.raises(OutputError, match="negative timestamp"):
        trace.instant("x", -1, pid=1, tid=1)
    with pytest.raises(OutputError, match="scope"):
        trace.instant("x", 1, pid=1, tid=1, scope="z")
    with pytest.raises(OutputError, match="not a number"):
        trace.counter("c", 1, {"a": "many"})
    trace.begin("f", 10, pid=1, tid=1)
    with pytest.raises(OutputError, match="before it began"):
        trace.end("f", 5, pid=1, tid=1)


@given(st.lists(st.tuples(st.sampled_from("BEic"), st.integers(0, 10**12), st.integers(1, 3)), max_size=50))
def test_generated_traces_validate(ops):
    trace = ChromeTrace()
    for op, ts, tid in sorted(ops, key=lambda o: o[1]):
        if op == "B":
            trace.begin("f", ts, pid=1, tid=tid)
        elif op == "E":
            trace.end("f", ts, pid=1, tid=tid)
        elif op == "i":
            trace.instant("tick", ts, pid=1, tid=tid)
        else:
            trace.counter("load", ts, {"v": tid})
    validate(json.loads(trace.dumps()))
