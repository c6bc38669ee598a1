"""CTF traces read back by babeltrace2, event for event, on generated events."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.output import CtfWriter, OutputError

pytestmark = pytest.mark.skipif(shutil.which("babeltrace2") is None, reason="babeltrace2 is not installed")


def _babeltrace(path) -> list[str]:
    result = subprocess.run(["babeltrace2", "--clock-seconds", "--no-delta", str(path)],
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.splitlines()


# babeltrace2's text sink escapes as C does (and ' and ?)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "'": "\\'", "?": "\\?"}


def _shown(value) -> str:
    """A payload value as babeltrace2's text sink prints it."""
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'
    return str(value)


def _expected(events, order) -> list[str]:
    lines = []
    for name, ts, values, _stream in sorted(events, key=lambda e: e[1]):
        payload = ", ".join(f"{key} = {_shown(values[key])}" for key in order)
        lines.append(f"[{ts // 10**9}.{ts % 10**9:09d}] {name}: {{ {payload} }}")
    return lines


FIELDS = {"pid": "u32", "delta": "s64", "comm": "string", "cpu": "u8", "small": "s16"}
texts = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
events = st.lists(st.tuples(
    st.sampled_from(["exec", "sched:switch"]),
    st.integers(0, 10**12),
    st.fixed_dictionaries({"pid": st.integers(0, 2**32 - 1), "delta": st.integers(-2**63, 2**63 - 1),
                           "comm": texts, "cpu": st.integers(0, 255), "small": st.integers(-2**15, 2**15 - 1)}),
    st.integers(0, 2)), min_size=1, max_size=40)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events)
def test_babeltrace_reads_every_event(tmp_path_factory, generated):
    path = tmp_path_factory.mktemp("ctf")
    with CtfWriter(path) as trace:
        trace.event_class("exec", FIELDS)
        trace.event_class("sched:switch", FIELDS)
        for name, ts, values, stream in sorted(generated, key=lambda e: e[1]):
            trace.write(name, ts, values, stream=stream)
    got = _babeltrace(path)
    # equal timestamps in different streams may be merged in either order
    assert sorted(got) == sorted(_expected(generated, FIELDS))
    assert [line.split("]")[0] for line in got] == [line.split("]")[0] for line in _expected(generated, FIELDS)]


def test_floats_environment_and_offset(tmp_path):
    with CtfWriter(tmp_path, offset_ns=1_700_000_000 * 10**9, environment={"hostname": "pybpf-output", "n": 3}) as trace:
        trace.event_class("sample", {"ratio": "f64", "note": "string"})
        trace.write("sample", 5, {"ratio": 0.25, "note": "naïve"})
    (line,) = _babeltrace(tmp_path)
    assert line == '[1700000000.000000005] pybpf-output sample: { ratio = 0.25, note = "naïve" }'


def test_bad_input_is_refused(tmp_path):
    trace = CtfWriter(tmp_path)
    trace.event_class("e", {"v": "u8"})
    with pytest.raises(OutputError, match="cannot hold 256"):
        trace.write("e", 1, {"v": 256})
    with pytest.raises(OutputError, match="no value for field 'v'"):
        trace.write("e", 1, {})
    with pytest.raises(OutputError, match="was not declared"):
        trace.write("f", 1, {"v": 1})
    with pytest.raises(OutputError, match="expected one of"):
        trace.event_class("g", {"v": "u128"})
    with pytest.raises(OutputError, match="C identifier"):
        trace.event_class("h", {"bad name": "u8"})
    trace.write("e", 10, {"v": 1})
    with pytest.raises(OutputError, match="time order"):
        trace.write("e", 9, {"v": 1})
    trace.close()
    assert re.match(r"\[0\.000000010\] e: \{ v = 1 \}", _babeltrace(tmp_path)[0])


def test_many_packets(tmp_path):
    """Events spread over many small packets and three streams all come back, in time order."""
    expected = []
    with CtfWriter(tmp_path, packet_bytes=96) as trace:
        trace.event_class("tick", {"n": "u64", "label": "string"})
        for n in range(200):
            values = {"n": n, "label": f"event {n}"}
            trace.write("tick", 1000 * n, values, stream=n % 3)
            expected.append(("tick", 1000 * n, values, 0))
    assert len(list(tmp_path.glob("stream_*"))) == 3
    assert (tmp_path / "stream_0").stat().st_size > 60 * 64     # one packet per event or two
    assert _babeltrace(tmp_path) == _expected(expected, ("n", "label"))
