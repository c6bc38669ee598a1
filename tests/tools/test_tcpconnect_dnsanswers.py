"""tcpconnect --dns's reading of DNS responses (pybpf.tools.dnsanswers): generated
responses (names compressed or not, A, AAAA and other records) read back; any bytes
either read or refused with a DnsError; the name cache's order and age."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.tools.dnsanswers import CACHE_SIZE, DNS_BYTES, DnsError, DnsNames, parse_answers

_labels = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20), min_size=1, max_size=4)
_v4 = st.integers(0, 2**32 - 1).map(lambda n: ipaddress.IPv4Address(n))
_v6 = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n))
_records = st.lists(st.one_of(_v4, _v6, st.binary(max_size=30)), max_size=6)


def _encode_name(labels: list[str]) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"


def _response(labels: list[str], records: list, compress: bool, flags: int = 0x8180) -> bytes:
    """A response to one question: ``records`` are addresses (A/AAAA) or bytes (a TXT-like
    record of type 16); owners point back at the question when ``compress``."""
    owner = b"\xc0\x0c" if compress else _encode_name(labels)
    answers = b""
    for record in records:
        kind, data = ((1, record.packed) if isinstance(record, ipaddress.IPv4Address)
                      else (28, record.packed) if isinstance(record, ipaddress.IPv6Address) else (16, record))
        answers += owner + struct.pack("!HHIH", kind, 1, 300, len(data)) + data
    return (struct.pack("!HHHHHH", 0x1234, flags, 1, len(records), 0, 0) + _encode_name(labels)
            + struct.pack("!HH", 1, 1) + answers)


@given(_labels, _records, st.booleans())
def test_responses_read_back(labels, records, compress):
    name, addresses = parse_answers(_response(labels, records, compress))
    assert name == ".".join(labels)
    assert addresses == [str(r) for r in records if not isinstance(r, bytes)]


@given(_labels, _records)
def test_queries_have_no_answers(labels, records):
    assert parse_answers(_response(labels, records, True, flags=0x0100)) == ("", [])


@given(st.binary(max_size=DNS_BYTES))
def test_any_bytes_read_or_refused(data):
    try:
        name, addresses = parse_answers(data)
    except DnsError:
        return
    assert isinstance(name, str) and all(ipaddress.ip_address(a) for a in addresses)


@given(_labels, st.lists(_v4, min_size=1, max_size=3), st.data())
def test_responses_cut_short_are_refused(labels, records, data):
    whole = _response(labels, records, True)
    cut = data.draw(st.integers(_response(labels, [], True).__len__(), len(whole) - 1))
    with pytest.raises(DnsError):
        parse_answers(whole[:cut])


def test_a_compression_loop_is_refused():
    message = struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c"
    with pytest.raises(DnsError, match="a loop"):
        parse_answers(message)


def _record(ts: int, message: bytes) -> bytes:
    return struct.pack(f"<QI{DNS_BYTES}s", ts, len(message), message)


def test_the_cache_keeps_the_last_answer_and_forgets_the_oldest():
    names = DnsNames()
    names.add_record(_record(10, _response(["a", "test"], [ipaddress.IPv4Address("10.0.0.1")], True)))
    names.add_record(_record(20, _response(["b", "test"], [ipaddress.IPv4Address("10.0.0.1")], True)))
    names.add_record(_record(30, b"\x00\x01garbage"))                  # passed over
    assert names.lookup("10.0.0.1", 25) == ("b.test", 20)
    assert names.lookup("10.0.0.1", 20 + 86401 * 10**9) is None        # a day old
    for n in range(CACHE_SIZE):
        names.add_record(_record(40 + n, _response(["c"], [ipaddress.IPv4Address(0x0B000000 + n)], True)))
    assert names.lookup("10.0.0.1", 50) is None and names.lookup("11.0.0.0", 50) == ("c", 40)
