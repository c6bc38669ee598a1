"""Filters run through the vm JIT's batch entry point give the classic interpreter's
answer for every packet: the libpcap savefiles and random packets, many expressions,
packets cut short by the snapshot length (where ``len`` is the wire length)."""

from __future__ import annotations

import ctypes
import random
import struct

import pytest

from pybpf.capture import Packet, open_capture, read_packets
from pybpf.cbpf import run
from pybpf.pcapfilter.batch import batches as batches_of
from pybpf.pcapfilter.matcher import Matcher, reads_wire_length
from pybpf.pcapfilter.walker import native
from shared_data import shared_path

EXPRESSIONS = [
    "ip", "tcp", "udp", "arp", "ip6", "icmp", "tcp port 80 and host 10.0.0.1", "udp port 53 or tcp port 443",
    "net 10.0.0.0/8", "ether broadcast", "greater 100", "less 80", "len > 64 and ip",
    "tcp[tcpflags] & tcp-syn != 0", "ip[8] > 32", "vlan", "not ip and not ip6", "ip proto 47 or ip6",
]


def _ether(seed: int, count: int) -> list[Packet]:
    """Random Ethernet frames, biased towards IPv4/IPv6/ARP headers so filters branch."""
    rng = random.Random(seed)
    packets = []
    for i in range(count):
        ethertype = rng.choice([0x0800, 0x0800, 0x86DD, 0x0806, 0x8100, rng.getrandbits(16)])
        body = bytearray(rng.getrandbits(8) for _ in range(rng.choice([0, 10, 20, 40, 60, 200])))
        if ethertype == 0x0800 and len(body) >= 20:
            body[0] = rng.choice([0x45, 0x46, 0x4F])
            body[9] = rng.choice([6, 17, 1, 47])
            body[6:8] = b"\0\0" if rng.random() < 0.8 else body[6:8]
            body[12:16] = rng.choice([bytes([10, 0, 0, 1]), bytes(body[12:16])])
        frame = bytes(rng.choice([b"\xff" * 6, bytes(6)])) + bytes(6) + struct.pack("!H", ethertype) + bytes(body)
        caplen = len(frame) if rng.random() < 0.7 else rng.randrange(len(frame) + 1)
        wirelen = len(frame) + rng.choice([0, 0, 30])
        packets.append(Packet(i, frame[:caplen], wirelen, 1))
    return packets


def _savefile_packets() -> list[Packet]:
    packets = []
    for path in sorted(shared_path("libpcap-tests", "savefiles").glob("*.pcap")):
        with open_capture(path) as capture:
            if capture.linktype == 1:
                packets += list(capture)
    return packets


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_jit_batches_agree_with_the_interpreter(expression):
    packets = _savefile_packets() + _ether(1, 400)
    matcher = Matcher(expression)
    assert matcher.uses_jit(1), "the JIT should handle a translated classic filter"
    program = matcher.program(1)
    expected = [run(program, p.data, p.wirelen) != 0 for p in packets]
    assert matcher.match(packets) == expected
    assert Matcher(expression, jit=False).match(packets) == expected


@pytest.mark.skipif(native() is None, reason="llvmlite cannot compile native code here")
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_native_batch_path_agrees_with_the_interpreter(tmp_path, expression):
    packets = _ether(2, 600)
    path = tmp_path / "r.pcap"
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for p in packets:
        data += struct.pack("<IIII", 0, p.timestamp_ns, len(p.data), p.wirelen) + p.data
    path.write_bytes(data)
    matcher = Matcher(expression)
    program = matcher.program(1)
    got = []
    with open_capture(path) as capture:
        batches = batches_of(capture, 64)
        results = (ctypes.c_uint64 * 64)()
        for batch in batches:
            matcher.match_batch(batch, results)
            got += [results[i] for i in range(batch.count)]
        batches.close()
    assert got == [run(program, p.data, p.wirelen) for p in read_packets(path)]


def test_len_programs_use_the_wire_length():
    assert reads_wire_length(Matcher("greater 100").program(1))
    assert not reads_wire_length(Matcher("tcp").program(1))
    cut = Packet(0, bytes(14 + 20), 1500, 1)          # 34 bytes kept of a 1500-byte frame
    assert Matcher("greater 1000").match([cut]) == [True]
    assert Matcher("less 100").match([cut]) == [False]


def test_empty_expression_matches_everything_of_any_link_type():
    matcher = Matcher("  ")
    odd = Packet(0, b"\x01\x02", 2, 147)             # a link type no filter is compiled for
    assert matcher.match([odd, odd]) == [True, True]


def test_one_program_per_link_type():
    matcher = Matcher("ip")
    ether = Packet(0, bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19), 34, 1)
    raw = Packet(0, bytes([0x45]) + bytes(19), 20, 101)
    assert matcher.match([ether, raw, raw]) == [True, True, True]
    assert matcher.program(1) != matcher.program(101)
