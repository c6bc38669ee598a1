"""Capture reading: every libpcap test capture (pcap and pcapng) reads, and agrees with
tcpdump's own reading; malformed files are refused with where and why."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from shared_data import shared_path

from pybpf.capture import CaptureError, read_packets


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
