"""Live capture for real, on loopback: a kernel-attached classic BPF filter (tcpdump's
own program for ``udp dst port 40123``) lets through only the datagrams sent to that
port. Needs root (CAP_NET_RAW) and Linux; skips with its reason otherwise."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest

from pybpf.capture import CaptureError, LinkType, summarize
from pybpf.cbpf import Instruction, parse_dump, run

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="AF_PACKET live capture is Linux-only"),
    pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root (CAP_NET_RAW)"),
]

PORT, OTHER_PORT = 40123, 40124
#: ``tcpdump -d -y EN10MB 'udp dst port 40123'`` (tcpdump 4.99 / libpcap 1.10)
UDP_DST_PORT = parse_dump("""\
(000) ldh      [12]
(001) jeq      #0x86dd          jt 2\tjf 6
(002) ldb      [20]
(003) jeq      #0x11            jt 4\tjf 15
(004) ldh      [56]
(005) jeq      #0x9cbb          jt 14\tjf 15
(006) jeq      #0x800           jt 7\tjf 15
(007) ldb      [23]
(008) jeq      #0x11            jt 9\tjf 15
(009) ldh      [20]
(010) jset     #0x1fff          jt 15\tjf 11
(011) ldxb     4*([14]&0xf)
(012) ldh      [x + 16]
(013) jeq      #0x9cbb          jt 14\tjf 15
(014) ret      #262144
(015) ret      #0
""")


def _send(payloads_and_ports):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for payload, port in payloads_and_ports:
            sender.sendto(payload, ("127.0.0.1", port))


def test_kernel_filter_passes_only_the_matching_port():
    from pybpf.capture.live import LiveCapture
    token = os.urandom(6).hex().encode()
    before = time.time_ns()
    with LiveCapture("lo", UDP_DST_PORT) as capture:
        assert capture.linktype == LinkType.EN10MB
        _send([(token + b"-a", PORT), (token + b"-b", OTHER_PORT), (token + b"-c", PORT), (token + b"-d", OTHER_PORT)])
        got = [p for p in capture.packets(count=10, timeout=1.0) if token in p.data]
    assert [p.data[-len(token) - 2:] for p in got] == [token + b"-a", token + b"-c"]
    for packet in got:
        assert before <= packet.timestamp_ns <= time.time_ns()
        assert packet.wirelen == len(packet.data) == 14 + 20 + 8 + len(token) + 2
        assert run(UDP_DST_PORT, packet.data) == 262144      # the userspace machine agrees
        assert summarize(packet.data, packet.linktype).endswith(f".{PORT}: UDP, length {len(token) + 2}")


def test_snaplen_cuts_packets_and_keeps_wire_length():
    from pybpf.capture.live import LiveCapture
    with LiveCapture("lo", UDP_DST_PORT, snaplen=40) as capture:
        _send([(b"y" * 100, PORT)])
        packet = capture.next_packet(timeout=1.0)
    assert packet is not None and len(packet.data) == 40 and packet.wirelen == 14 + 20 + 8 + 100


def test_timeout_without_traffic_returns_nothing():
    from pybpf.capture.live import LiveCapture
    reject_all = [Instruction(0x06, 0, 0, 0)]
    with LiveCapture("lo", reject_all) as capture:
        _send([(b"z", PORT)])
        start = time.monotonic()
        assert list(capture.packets(timeout=0.2)) == []
        assert time.monotonic() - start < 2


def test_replacing_the_filter_drains_the_old_one():
    from pybpf.capture.live import LiveCapture
    accept_all = [Instruction(0x06, 0, 0, 0xFFFF)]
    with LiveCapture("lo", accept_all) as capture:
        _send([(b"queued-under-accept-all", OTHER_PORT)])
        time.sleep(0.05)
        capture.set_filter(UDP_DST_PORT)
        _send([(b"after", PORT)])
        got = list(capture.packets(count=5, timeout=0.5))
    assert got and all(p.data.endswith(b"after") for p in got)


def test_errors_name_the_interface():
    from pybpf.capture.live import LiveCapture
    with pytest.raises(CaptureError, match="no-such-if0: no such interface"):
        LiveCapture("no-such-if0")
    with pytest.raises(CaptureError, match="lo: invalid filter"):
        LiveCapture("lo", [Instruction(0x15, 5, 5, 0)])
