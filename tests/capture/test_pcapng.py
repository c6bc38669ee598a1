"""pcapng reading: sections in both byte orders, several interfaces with their own link
types and timestamp resolutions, all three packet block kinds, and refusal (with file,
offset and reason) of every malformed or truncated file."""

from __future__ import annotations

import struct

import pytest

from pybpf.capture import CaptureError, open_capture, read_packets
from shared_data import shared_path


def block(order: str, kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def shb(order: str, version=(1, 0), options: bytes = b"") -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, *version, -1) + options)


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def idb(order: str, linktype: int, snaplen: int = 65535, tsresol: int | None = None, tsoffset: int = 0) -> bytes:
    options = b""
    if tsresol is not None:
        options += option(order, 9, bytes([tsresol]))
    if tsoffset:
        options += option(order, 14, struct.pack(order + "q", tsoffset))
    if options:
        options += struct.pack(order + "I", 0)
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, snaplen) + options)


def epb(order: str, iface: int, ticks: int, data: bytes, wirelen: int | None = None) -> bytes:
    return block(order, 6, struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                       len(data) if wirelen is None else wirelen) + data)


def spb(order: str, data: bytes, wirelen: int | None = None) -> bytes:
    return block(order, 3, struct.pack(order + "I", len(data) if wirelen is None else wirelen) + data)


def pb(order: str, iface: int, ticks: int, data: bytes) -> bytes:
    return block(order, 2, struct.pack(order + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                       len(data)) + data)


def two_sections() -> bytes:
    return (shb("<") + idb("<", 1) + idb("<", 101, tsresol=9) + epb("<", 0, 1_500_000, b"eth")
            + epb("<", 1, 2_000_000_007, b"raw!!") + block("<", 5, b"statistics are skipped")
            + pb("<", 0, 3_000_000, b"legacy")
            + shb(">") + idb(">", 228, snaplen=4, tsresol=0x80 | 10, tsoffset=100) + spb(">", b"simple-cut", 10)
            + epb(">", 0, 1024 * 5, b"b2"))


def test_sections_interfaces_and_block_kinds(tmp_path):
    path = tmp_path / "multi.pcapng"
    path.write_bytes(two_sections())
    with open_capture(path) as capture:
        assert capture.format == "pcapng" and capture.linktype == 1 and capture.snaplen == 65535
        packets = list(capture)
    assert [(p.data, p.linktype, p.interface) for p in packets] == [
        (b"eth", 1, 0), (b"raw!!", 101, 1), (b"legacy", 1, 0), (b"simp", 228, 0), (b"b2", 228, 0)]
    assert [p.timestamp_ns for p in packets] == [
        1_500_000_000, 2_000_000_007, 3_000_000_000, 100_000_000_000, 100_000_000_000 + 5_000_000_000]
    assert packets[3].wirelen == 10


def test_binary_resolution_rounds_down(tmp_path):
    path = tmp_path / "bin.pcapng"
    path.write_bytes(shb("<") + idb("<", 1, tsresol=0x80 | 3) + epb("<", 0, 3, b"x"))
    (packet,) = read_packets(path)
    assert packet.timestamp_ns == 375_000_000


def test_file_without_interfaces_has_no_linktype(tmp_path):
    path = tmp_path / "empty.pcapng"
    path.write_bytes(shb(">"))
    with open_capture(path) as capture:
        assert capture.linktype is None and list(capture) == []


def _good() -> bytes:
    return shb("<") + idb("<", 1) + epb("<", 0, 1, b"abcd")


@pytest.mark.parametrize("data, offset, why", [
    (_good()[:-2], 80, "truncated block trailer"),
    (_good()[:-20], 56, "truncated block of type 6"),
    (_good() + b"\x06\0", 84, "truncated block header"),
    (shb("<") + epb("<", 0, 1, b"abcd"), 28, "packet for interface 0, but this section describes only 0"),
    (shb("<") + idb("<", 1) + epb("<", 3, 1, b"abcd"), 48, "packet for interface 3"),
    (shb("<", version=(1, 1)), 12, "unsupported pcapng savefile version 1.1"),
    (shb("<", options=option("<", 2, b"x") [:4] + b"\0" * 0), 24, "option 2 of length 1 runs past"),
    (shb("<") + block("<", 1, b"\1\0"), 28, "interface description block body is 4 bytes"),
    (shb("<") + struct.pack("<II", 6, 14) + b"\0" * 6, 32, "block total length 14 is invalid"),
    (shb("<") + struct.pack("<II", 6, 1 << 30), 32, "larger than the maximum"),
    (shb("<")[:-4] + struct.pack("<I", 99), 24, "block total length in header 28 and trailer 99 don't match"),
    (b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x11\x22\x33\x44", 8, "byte-order magic"),
    (shb("<") + idb("<", 1) + block("<", 6, struct.pack("<IIIII", 0, 0, 0, 100, 100) + b"ab"), 48,
     "captured length 100 runs past the end of its block"),
], ids=["cut-trailer", "cut-body", "cut-header", "no-interface", "unknown-interface", "version", "option-length",
        "short-idb", "bad-length", "huge-length", "trailer-mismatch", "byte-order-magic", "caplen-past-block"])
def test_malformed(tmp_path, data, offset, why):
    path = tmp_path / "bad.pcapng"
    path.write_bytes(data)
    with pytest.raises(CaptureError, match=why) as info:
        list(read_packets(path))
    assert str(info.value).startswith(f"{path}: byte {offset}: ")


def test_every_truncation_of_a_good_file_is_an_error_or_a_block_boundary(tmp_path):
    data = two_sections()
    boundaries, pos = set(), 0
    while pos < len(data):                       # block starts, found from their lengths
        boundaries.add(pos)
        order = ">" if data[pos + 8:pos + 12] == b"\x1a\x2b\x3c\x4d" else "<"
        if data[pos:pos + 4] != b"\x0a\x0d\x0d\x0a":
            order = ">" if pos >= data.rindex(b"\x0a\x0d\x0d\x0a") else "<"
        pos += struct.unpack_from(order + "I", data, pos + 4)[0]
    path = tmp_path / "cut.pcapng"
    for size in range(len(data)):
        path.write_bytes(data[:size])
        if size in boundaries and size >= 28:
            list(read_packets(path))
        else:
            with pytest.raises(CaptureError):
                list(read_packets(path))


_LIBPCAP_REJECTS = {
    "pcapng-invalid-vers-1.pcapng": "byte 12: unsupported pcapng savefile version 0.1",
    "pcapng-invalid-vers-2.pcapng": "byte 12: unsupported pcapng savefile version 1.1",
    "shb-option-too-long.pcapng": "block total length in header 52 and trailer 808464432 don't match",
}


@pytest.mark.parametrize("name", sorted(_LIBPCAP_REJECTS))
def test_libpcap_malformed_pcapng_files(name):
    path = shared_path("libpcap-tests", "format_savefiles", name)
    with pytest.raises(CaptureError, match=_LIBPCAP_REJECTS[name]) as info:
        list(read_packets(path))
    assert str(info.value).startswith(str(path))
