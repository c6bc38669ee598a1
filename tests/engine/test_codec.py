"""Codecs: every kind round-trips, and what does not fit is refused saying where."""

from __future__ import annotations

import ctypes
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.engine import CodecError, make_codec
from pybpf.engine.codec import IntCodec, LpmKeyCodec, PerCpuCodec

WHERE = "key of map 'm'"


@given(st.sampled_from([1, 2, 4, 8]).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(0, 2 ** (8 * size) - 1))))
def test_ints_round_trip(case):
    size, value = case
    codec = make_codec(None, size, WHERE)
    data = codec.encode(value)
    assert len(data) == size and codec.decode(data) == value
    assert codec.encode(data) == data  # raw bytes of the right size pass through


@given(st.integers(-2 ** 31, 2 ** 31 - 1))
def test_signed_ints_round_trip(value):
    codec = IntCodec(4, WHERE, signed=True)
    assert codec.decode(codec.encode(value)) == value


@given(st.tuples(st.integers(-2 ** 15, 2 ** 15 - 1), st.integers(0, 255)))
def test_struct_formats_round_trip(value):
    codec = make_codec("<hBx", 4, WHERE)
    assert codec.decode(codec.encode(value)) == value


def test_single_field_struct_formats_are_bare_values():
    codec = make_codec("<Q", 8, WHERE)
    assert codec.decode(codec.encode(5)) == 5


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint16), ("b", ctypes.c_uint16)]


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_ctypes_round_trip(a, b):
    codec = make_codec(Pair, 4, WHERE)
    out = codec.decode(codec.encode(Pair(a, b)))
    assert (out.a, out.b) == (a, b)


@given(st.integers(0, 2 ** 32 - 1), st.integers(0, 32))
def test_lpm_ipv4_round_trip(address, prefix):
    codec = LpmKeyCodec(8, WHERE)
    network = ipaddress.ip_network((address, prefix), strict=False)
    assert codec.decode(codec.encode(network)) == network
    assert codec.encode((str(network.network_address), prefix)) == codec.encode(network)


def test_lpm_other_sizes_and_refusals():
    codec = LpmKeyCodec(7, WHERE)
    assert codec.decode(codec.encode((b"\x01\x02\x03", 20))) == (b"\x01\x02\x03", 20)
    with pytest.raises(CodecError, match="prefix length 25"):
        codec.encode((b"\x01\x02\x03", 25))
    with pytest.raises(CodecError, match="4 address bytes, the trie's keys hold 3"):
        codec.encode(("10.0.0.0", 8))
    with pytest.raises(CodecError, match="does not appear to be"):
        LpmKeyCodec(8, WHERE).encode(("10.0.0.300", 8))
    with pytest.raises(CodecError, match="an LPM key is"):
        LpmKeyCodec(8, WHERE).encode(42)


@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=3, max_size=3))
def test_per_cpu_values_pad_each_cpu_to_8_bytes(values):
    codec = PerCpuCodec(make_codec(None, 4, WHERE), 3)
    data = codec.encode(values)
    assert len(data) == 24 and codec.decode(data) == values


def test_per_cpu_single_value_goes_to_every_cpu():
    codec = PerCpuCodec(make_codec(None, 2, WHERE), 2)
    assert codec.decode(codec.encode(7)) == [7, 7]


@pytest.mark.parametrize("kind,size,value,message", [
    (None, 4, 2 ** 32, "does not fit in 4 bytes"),
    (None, 4, "x", "expected an int or 4 bytes"),
    (None, 4, b"abc", "3 bytes given, 4 expected"),
    (None, 12, 5, "expected 12 bytes, got int"),
    ("<I", 4, "x", "does not pack"),
    (Pair, 4, "x", "expected Pair"),
])
def test_encode_refusals_say_where(kind, size, value, message):
    with pytest.raises(CodecError, match=message) as caught:
        make_codec(kind, size, WHERE).encode(value)
    assert str(caught.value).startswith(WHERE)


@pytest.mark.parametrize("kind,size,message", [
    (int, 3, "not an integer size"),
    ("<Q", 4, "format '<Q' is 8 bytes"),
    ("<Z", 4, "bad struct format"),
    (Pair, 8, "Pair is 4 bytes"),
    (float, 8, "is not a key/value type"),
    (IntCodec(4, WHERE), 8, "codec is for 4 bytes"),
])
def test_bad_codec_kinds(kind, size, message):
    with pytest.raises(CodecError, match=message):
        make_codec(kind, size, WHERE)
