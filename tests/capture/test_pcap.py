"""Capture reading: every libpcap test capture (pcap and pcapng) reads, and agrees with
tcpdump's own reading; malformed files are refused with where and why."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess

import pytest

from pybpf.capture import CaptureError, open_capture, read_packets
from shared_data import shared_path


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump as the reference reader")
def test_packet_counts_agree_with_tcpdump():
    for capture in sorted(shared_path("libpcap-tests", "savefiles").iterdir()):
        out = subprocess.run(["tcpdump", "-#", "-tt", "-r", str(capture), "-nq"], capture_output=True, text=True)
        if out.returncode:
            continue
        numbered = [line for line in out.stdout.splitlines() if re.match(r"^\s*\d+\s+\d+\.\d+ ", line)]
        ours = list(read_packets(capture))
        assert len(ours) == len(numbered), capture.name
        assert [p.timestamp_ns // 1000 for p in ours] == [int(line.split()[1].replace(".", "")) for line in numbered]


def _pcap(tmp_path, order="<", magic=0xA1B2C3D4, records=((1, 500, b"abcd", 60),)):
    data = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for seconds, fraction, payload, wire in records:
        data += struct.pack(order + "IIII", seconds, fraction, len(payload), wire) + payload
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("order, magic, scale", [("<", 0xA1B2C3D4, 1000), (">", 0xA1B2C3D4, 1000),
                                                 ("<", 0xA1B23C4D, 1)])
def test_byte_orders_and_resolutions(tmp_path, order, magic, scale):
    (packet,) = read_packets(_pcap(tmp_path, order, magic))
    assert packet.data == b"abcd" and packet.wirelen == 60 and packet.linktype == 1
    assert packet.timestamp_ns == 1_000_000_000 + 500 * scale


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b[:2], "too short"),
    (lambda b: b"\x00" * 24, "neither pcap nor pcapng"),
    (lambda b: b[:-2], "truncated packet"),
    (lambda b: b[:24 + 10], "truncated record header"),
])
def test_malformed(tmp_path, mangle, why):
    path = _pcap(tmp_path)
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(CaptureError, match=why):
        list(read_packets(path))


def test_missing(tmp_path):
    with pytest.raises(CaptureError, match="cannot open"):
        list(read_packets(tmp_path / "none.pcap"))


def test_every_libpcap_savefile_reads():
    for capture in sorted(shared_path("libpcap-tests", "savefiles").iterdir()):
        with open_capture(capture) as opened:
            packets = list(opened)
        assert packets, capture.name
        assert all(p.linktype == opened.linktype for p in packets), capture.name


_LIBPCAP_REJECTS = {
    "pcap-invalid-version-1.pcap": "byte 4: archaic pcap savefile format \\(version 1.4\\)",
    "pcap-invalid-version-2.pcap": "byte 4: unsupported pcap savefile version 2.5",
    # libpcap (sf-pcap.c, LT_RESERVED1) refuses bits 16-25 of the link-type word: they
    # are reserved, so a file setting them is damaged or from a format we cannot know
    "linktype-reserved-field-not-zero.pcap": "byte 20: link-type reserved field not zero \\(0x00300000\\)",
}


@pytest.mark.parametrize("name", sorted(_LIBPCAP_REJECTS))
def test_libpcap_malformed_pcap_files(name):
    path = shared_path("libpcap-tests", "format_savefiles", name)
    with pytest.raises(CaptureError, match=_LIBPCAP_REJECTS[name]) as info:
        list(read_packets(path))
    assert str(info.value).startswith(f"{path}: byte ")


def test_header_fields(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 1500, 0x04000000 | 2 << 28 | 101))
    with open_capture(path) as capture:
        assert (capture.format, capture.linktype, capture.snaplen, capture.byte_order) == ("pcap", 101, 1500, ">")
        assert capture._reader.nanosecond and capture._reader.fcs_length == 4
        assert list(capture) == []


def test_old_versions_store_lengths_swapped(tmp_path):
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 2, 0, 0, 65535, 1) + struct.pack("<IIII", 1, 0, 60, 4) + b"abcd"
    path = tmp_path / "old.pcap"
    path.write_bytes(data)
    (packet,) = read_packets(path)
    assert packet.data == b"abcd" and packet.wirelen == 60


@pytest.mark.parametrize("mangle, offset, why", [
    (lambda b: b[:24 + 8] + struct.pack("<I", 300000) + b[24 + 12:], 24, "claims 300000 captured bytes"),
    (lambda b: b[:10], 4, "truncated file header"),
    (lambda b: b[:24 + 16 + 1], 40, "truncated packet data \\(1 of 4 bytes\\)"),
])
def test_malformed_records_name_their_offset(tmp_path, mangle, offset, why):
    path = _pcap(tmp_path)
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(CaptureError, match=why) as info:
        list(read_packets(path))
    assert str(info.value).startswith(f"{path}: byte {offset}: ")


def test_reads_from_a_pipe_like_stream(tmp_path):
    data = _pcap(tmp_path).read_bytes()
    (packet,) = read_packets(io.BufferedReader(io.BytesIO(data)))
    assert packet.data == b"abcd"


def test_link_type_names_and_the_enum_agree():
    """LinkType (made on first use) and linktype_name read the same table."""
    from pybpf.capture import LinkType, linktype_name
    from pybpf.capture.packet import LINKTYPES

    assert {member.name: member.value for member in LinkType} == LINKTYPES
    assert LinkType.EN10MB == 1 and LinkType(113) is LinkType.LINUX_SLL and LinkType.__module__ == "pybpf.capture.packet"
    for member in LinkType:
        assert linktype_name(member) == linktype_name(int(member)) == member.name
    assert linktype_name(42) == "LINKTYPE_42"
