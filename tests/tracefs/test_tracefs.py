"""tracefs formats: parsing (sample texts in the kernel's format, and every tracepoint of
the running kernel when tracefs is readable), record encode/decode, the catalog."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.tracefs import Tracefs, TracefsError, parse_format
from recorded_formats import EXEC_FORMAT

MIXED_FORMAT = """name: demo
ID: 7
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:unsigned long args[6];\toffset:24;\tsize:48;\tsigned:0;
\tfield:long delta;\toffset:72;\tsize:8;\tsigned:1;
\tfield:__data_loc u64[] addrs;\toffset:80;\tsize:4;\tsigned:0;
\tfield:__rel_loc char[] msg;\toffset:84;\tsize:4;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:88;\tsize:4;\tsigned:0;
"""


def test_parse_exec_format():
    fmt = parse_format(EXEC_FORMAT, "sched")
    assert fmt.qualified_name == "sched:sched_process_exec" and fmt.id == 365 and fmt.size == 20
    filename = fmt.field("filename")
    assert filename.dynamic and filename.is_string and filename.offset == 8
    assert fmt.field("pid").signed and not fmt.field("common_type").signed
    assert fmt.print_fmt.startswith('"filename=%s')


def test_decode_a_record_the_kernel_would_write():
    fmt = parse_format(EXEC_FORMAT, "sched")
    # filename at offset 20, 8 bytes long: locator = 8 << 16 | 20
    record = (365).to_bytes(2, "little") + b"\0\0" + (42).to_bytes(4, "little") \
        + (8 << 16 | 20).to_bytes(4, "little") + (42).to_bytes(4, "little") \
        + (-1).to_bytes(4, "little", signed=True) + b"/bin/ls\0"
    assert fmt.decode(record) == {"common_type": 365, "common_flags": 0, "common_preempt_count": 0,
                                  "common_pid": 42, "filename": "/bin/ls", "pid": 42, "old_pid": -1}
    assert fmt.encode({"common_pid": 42, "filename": "/bin/ls", "pid": 42, "old_pid": -1}) == record


def test_mixed_fields_round_trip():
    fmt = parse_format(MIXED_FORMAT, "demo")
    assert fmt.field("args").array_len == 6 and fmt.field("args").element_size == 8
    assert fmt.field("addrs").element_size == 8 and fmt.field("msg").relative
    values = {"comm": "bash", "args": (1, 2, 3, 4, 5, 2**64 - 1), "delta": -5,
              "addrs": (0xFFFFFFFF81000000, 7), "msg": "hi there", "saddr": (127, 0, 0, 1)}
    decoded = fmt.decode(fmt.encode(values))
    assert {k: decoded[k] for k in values} == values and decoded["common_type"] == 7


@pytest.mark.parametrize(
    "values, why",
    [
        ({"nope": 1}, "has no field 'nope'"),
        ({"comm": "x" * 16}, "comm holds at most 15 bytes"),
        ({"args": (1, 2)}, "args has 6 elements, got 2"),
        ({"delta": 2**70}, "does not fit delta"),
        ({"args": 5}, "args cannot hold 5"),
    ],
)
def test_encode_errors(values, why):
    with pytest.raises(TracefsError, match=why):
        parse_format(MIXED_FORMAT, "demo").encode(values)


def test_decode_errors():
    fmt = parse_format(EXEC_FORMAT, "sched")
    with pytest.raises(TracefsError, match="shorter than its fixed part"):
        fmt.decode(b"\0" * 10)
    bad = bytearray(fmt.encode({"filename": "x"}))
    bad[8:12] = (100 << 16 | 20).to_bytes(4, "little")
    with pytest.raises(TracefsError, match="filename points past the record"):
        fmt.decode(bytes(bad))
    with pytest.raises(TracefsError, match=r"no field 'x' \(fields: filename, pid, old_pid\)"):
        fmt.field("x")


@pytest.mark.parametrize(
    "text, why",
    [
        ("name: x\nID: 1\n", "not a tracepoint format"),
        ("name: x\nID: q\n", "format:2: bad ID"),
        ("name: x\nID: 1\n\tfield:int a;\toffset:zz;\n", "format:3: cannot read field line"),
    ],
)
def test_format_errors(text, why):
    with pytest.raises(TracefsError, match=why):
        parse_format(text)


@given(comm=st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=15),
       args=st.lists(st.integers(0, 2**64 - 1), min_size=6, max_size=6),
       delta=st.integers(-(2**63), 2**63 - 1),
       addrs=st.lists(st.integers(0, 2**64 - 1), max_size=5),
       msg=st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=40))
def test_encode_decode_property(comm, args, delta, addrs, msg):
    fmt = parse_format(MIXED_FORMAT, "demo")
    values = {"comm": comm, "args": tuple(args), "delta": delta, "addrs": tuple(addrs), "msg": msg}
    decoded = fmt.decode(fmt.encode(values))
    assert {k: decoded[k] for k in values} == values


def _tracefs() -> Tracefs:
    try:
        return Tracefs()
    except TracefsError as exc:
        pytest.skip(f"tracefs unavailable here: {exc}")


def test_every_kernel_tracepoint_format_parses():
    tracefs = _tracefs()
    if not os.access(tracefs.root / "events", os.R_OK) or not tracefs.events:
        pytest.skip("tracefs events are not readable by this user")
    for name in tracefs.events:
        fmt = tracefs.format(name)
        for f in fmt.fields:
            assert f.offset + f.size <= fmt.size, (name, f)
        assert fmt.field("common_type").offset == 0


def test_catalog_lookups():
    tracefs = _tracefs()
    if "syscalls:sys_enter_openat" not in tracefs.events:
        pytest.skip("this kernel has no syscalls tracepoints")
    assert tracefs.format("tracepoint:syscalls:sys_enter_openat").field("filename").offset == 24
    assert tracefs.event_id("syscalls:sys_enter_openat") > 0
    assert "syscalls:sys_enter_openat" in tracefs.match("syscalls:sys_enter_open*")
    assert tracefs.tracepoint_for_function("__x64_sys_openat") == "syscalls:sys_enter_openat"
    assert tracefs.tracepoint_for_function("no_such_function_anywhere") is None
    with pytest.raises(TracefsError, match="did you mean syscalls:sys_enter_openat"):
        tracefs.format("syscalls:sys_enter_opnat")
    for bad in ("openat", "a:b:c", "../x:y"):
        with pytest.raises(TracefsError, match="expected CATEGORY:NAME|path separators"):
            tracefs.format(bad)
