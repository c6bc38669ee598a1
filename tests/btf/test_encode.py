"""BTF encoding is decoding's inverse: values of every kind (ints of each size and
signedness, bitfields, enums by name, char arrays as text, nested and anonymous records)
round-trip, and bad values are refused with where and why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiled_btf import btf_file_from_c
from pybpf.btf import BTF, BTFError, Kind, decode, encode

TYPES = r"""
enum color { RED = 1, GREEN = 2, BLUE = 40 };
struct inner { short s; unsigned char b[3]; };
struct event {
    unsigned int pid;
    int delta;
    long long big;
    unsigned flag : 1, level : 5;
    int negative : 7;
    enum color color;
    char comm[16];
    struct inner inner;
    union { unsigned int as_int; unsigned short halves[2]; };
    unsigned int tail[2];
};
struct event e;
"""


@pytest.fixture(scope="module")
def btf(tmp_path_factory):
    return BTF.load(btf_file_from_c(TYPES, tmp_path_factory.mktemp("btf")))


@pytest.fixture(scope="module")
def event(btf):
    return btf.find("event", Kind.STRUCT).id


values = st.fixed_dictionaries({
    "pid": st.integers(0, 2**32 - 1), "delta": st.integers(-2**31, 2**31 - 1), "big": st.integers(-2**63, 2**63 - 1),
    "flag": st.integers(0, 1), "level": st.integers(0, 31), "negative": st.integers(-64, 63),
    "color": st.sampled_from(["RED", "GREEN", "BLUE"]),
    "comm": st.text(alphabet="abcxyz-_", max_size=15),
    "inner": st.fixed_dictionaries({"s": st.integers(-2**15, 2**15 - 1), "b": st.lists(st.integers(0, 255),
                                                                                        min_size=3, max_size=3)}),
    "as_int": st.integers(0, 2**32 - 1), "tail": st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2),
})


@settings(max_examples=200, deadline=None)
@given(values)
def test_round_trip(btf, event, value):
    data = encode(btf, event, value)
    assert len(data) == btf.sizeof(event)
    back = decode(btf, event, data)
    assert dict(back) == {**value, "halves": [value["as_int"] & 0xFFFF, value["as_int"] >> 16]}
    assert encode(btf, event, back) == data          # a decoded record encodes back as it was


def test_missing_fields_are_zero_and_enums_take_numbers(btf, event):
    data = encode(btf, event, {"color": 40})
    assert decode(btf, event, data).color == "BLUE" and decode(btf, event, data).pid == 0


@pytest.mark.parametrize("value, why", [
    ({"pid": -1}, "does not fit in an unsigned 32-bit field"),
    ({"level": 32}, "does not fit in an unsigned 5-bit field"),
    ({"negative": 64}, "does not fit in a signed 7-bit field"),
    ({"color": "PURPLE"}, "'PURPLE' is not a value of enum color"),
    ({"comm": "x" * 17}, "17 bytes do not fit in char[16]"),
    ({"tail": [1, 2, 3]}, "3 elements do not fit in an array of 2"),
    ({"nope": 1}, "has no field 'nope'"),
    ({"inner": 5}, "value.inner: expected a mapping"),
    ({"pid": "1"}, "value.pid: expected an integer"),
])
def test_bad_values_say_where_and_why(btf, event, value, why):
    with pytest.raises(BTFError, match=why.replace("[", r"\[").replace("]", r"\]")):
        encode(btf, event, value)
