"""One-line summaries, timestamps and hex dumps in tcpdump's shape: hand-built packets of
every decoded protocol against the lines Debian's tcpdump 4.99 prints for them (checked
again live when tcpdump is installed), libpcap's savefiles, and random bytes that must
never make a summary raise."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest
from frames import MAC_A, MAC_B, arp, dns_name, dns_query, dns_response, echo, ether, icmp, ipv4, ipv6, tcp, udp, vlan
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.capture import PcapWriter, format_timestamp, hexdump, read_packets, summarize
from shared_data import shared_path

_UDP = ipv4(udp(5555, 40123, b"abcd"), 17)
_SYN_OPTIONS = bytes.fromhex("020405b40402080a0000000100000000") + b"\x01\x03\x03\x07"
_E = "08:00:27:1e:28:d1 > aa:00:04:00:14:0e, "

#: (frame, tcpdump -S -n line, tcpdump -S -n -e line) — lines as tcpdump 4.99.3 prints them
ETHERNET = [
    (ether(ipv4(tcp(80, 5555, 0x12, 1, 2), 6), 0x0800),
     "IP 10.0.0.1.80 > 10.0.0.2.5555: Flags [S.], seq 1, ack 2, win 512, length 0",
     _E + "ethertype IPv4 (0x0800), length 54: 10.0.0.1.80 > 10.0.0.2.5555: Flags [S.], seq 1, ack 2, win 512, "
          "length 0"),
    (ether(ipv4(tcp(5555, 80, 0x02, 100, 0, 65535, options=_SYN_OPTIONS), 6), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.80: Flags [S], seq 100, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,"
     "wscale 7], length 0", None),
    (ether(ipv4(tcp(5555, 4444, 0x18, 101, 2, 502, b"GET / HTTP/1.0\r\n\r\n"), 6), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.4444: Flags [P.], seq 101:119, ack 2, win 502, length 18", None),
    (ether(ipv4(tcp(5555, 80, 0x10, 101, 2, 502), 6), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.80: Flags [.], ack 2, win 502, length 0", None),
    (ether(ipv4(tcp(5555, 80, 0x11, 101, 2, 502), 6), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.80: Flags [F.], seq 101, ack 2, win 502, length 0", None),
    (ether(ipv4(tcp(5555, 80, 0x04, 101, 0, 0), 6), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.80: Flags [R], seq 101, win 0, length 0", None),
    (ether(ipv4(tcp(5555, 80, 0x10, 101, 2, 502, options=bytes.fromhex("0101050a000000010000000a")), 6), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.80: Flags [.], ack 2, win 502, options [nop,nop,sack 1 {1:10}], length 0", None),
    (ether(_UDP, 0x0800), "IP 10.0.0.1.5555 > 10.0.0.2.40123: UDP, length 4",
     _E + "ethertype IPv4 (0x0800), length 46: 10.0.0.1.5555 > 10.0.0.2.40123: UDP, length 4"),
    (ether(ipv4(udp(5555, 53, dns_query(4660, "example.com")), 17), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.53: 4660+ A? example.com. (29)", None),
    (ether(ipv4(udp(5555, 53, dns_query(4661, "example.com", 28, rd=False)), 17), 0x0800),
     "IP 10.0.0.1.5555 > 10.0.0.2.53: 4661 AAAA? example.com. (29)", None),
    (ether(ipv4(udp(53, 5555, dns_response(4660, "example.com", [(1, bytes([93, 184, 216, 34]))])), 17), 0x0800),
     "IP 10.0.0.1.53 > 10.0.0.2.5555: 4660 1/0/0 A 93.184.216.34 (45)", None),
    (ether(ipv4(udp(53, 5555, dns_response(4660, "www.example.com",
                                           [(5, dns_name("example.com")), (1, bytes([1, 2, 3, 4]))])), 17), 0x0800),
     "IP 10.0.0.1.53 > 10.0.0.2.5555: 4660 2/0/0 CNAME example.com., A 1.2.3.4 (74)", None),
    (ether(ipv4(udp(53, 5555, dns_response(4662, "nx.example.com", [], rcode=3)), 17), 0x0800),
     "IP 10.0.0.1.53 > 10.0.0.2.5555: 4662 NXDomain 0/0/0 (32)", None),
    (ether(ipv4(udp(53, 5555, dns_response(4663, "example.com", [(28, bytes(15) + b"\1")])), 17), 0x0800),
     "IP 10.0.0.1.53 > 10.0.0.2.5555: 4663 1/0/0 AAAA ::1 (57)", None),
    (ether(ipv4(tcp(53, 5555, 0x18, 101, 2, 502, struct.pack("!H", 29) + dns_query(4660, "example.com")), 6), 0x0800),
     "IP 10.0.0.1.53 > 10.0.0.2.5555: Flags [P.], seq 101:132, ack 2, win 502, length 31 4660+ A? example.com. (29)",
     None),
    (ether(ipv4(echo(8, 7, 317), 1), 0x0800), "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 317, length 64",
     _E + "ethertype IPv4 (0x0800), length 98: 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 317, length 64"),
    (ether(ipv4(echo(0, 7, 317), 1), 0x0800), "IP 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 7, seq 317, length 64",
     None),
    (ether(ipv4(icmp(3, 3, bytes(4) + _UDP[:28]), 1, "10.0.0.2", "10.0.0.1"), 0x0800),
     "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 40123 unreachable, length 36", None),
    (ether(ipv4(icmp(3, 1, bytes(4) + ipv4(udp(1, 2, b""), 17, dst="10.9.9.9")[:28]), 1, "10.0.0.2", "10.0.0.1"),
           0x0800),
     "IP 10.0.0.2 > 10.0.0.1: ICMP host 10.9.9.9 unreachable, length 36", None),
    (ether(ipv4(icmp(11, 0, bytes(4) + _UDP[:28]), 1), 0x0800),
     "IP 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 36", None),
    (ether(ipv4(b"x" * 10, 99), 0x0800), "IP 10.0.0.1 > 10.0.0.2:  ip-proto-99 10", None),
    (ether(ipv4(b"abcdefgh", 17, frag=0x0003), 0x0800), "IP 10.0.0.1 > 10.0.0.2: ip-proto-17", None),
    (ether(ipv4(tcp(5555, 4444, 0x18, 101, 2, 502, b"GET"), 6)[:40], 0x0800),
     "IP truncated-ip - 3 bytes missing! 10.0.0.1.5555 > 10.0.0.2.4444: Flags [P.], seq 101:104, ack 2, win 502, "
     "length 3", None),
    (ether(ipv6(tcp(80, 5555, 0x12, 1, 2), 6), 0x86DD),
     "IP6 2001:db8::1.80 > 2001:db8::2.5555: Flags [S.], seq 1, ack 2, win 512, length 0", None),
    (ether(ipv6(udp(5555, 53, dns_query(1, "example.com", 28)), 17), 0x86DD),
     "IP6 2001:db8::1.5555 > 2001:db8::2.53: 1+ AAAA? example.com. (29)", None),
    (ether(ipv6(echo(128, 12, 225), 58), 0x86DD),
     "IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 12, seq 225, length 64",
     _E + "ethertype IPv6 (0x86dd), length 118: 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 12, seq 225, "
          "length 64"),
    (ether(ipv6(echo(129, 12, 225), 58), 0x86DD),
     "IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo reply, id 12, seq 225, length 64", None),
    (ether(ipv6(icmp(1, 4, bytes(4) + ipv6(udp(5555, 40123, b"abcd"), 17)), 58, "2001:db8::2", "2001:db8::1"), 0x86DD),
     "IP6 2001:db8::2 > 2001:db8::1: ICMP6, destination unreachable, unreachable port, 2001:db8::2 udp port 40123, "
     "length 60", None),
    (ether(ipv6(icmp(135, 0, bytes(4) + bytes.fromhex("fe800000000000000000000000000001")), 58), 0x86DD),
     "IP6 2001:db8::1 > 2001:db8::2: ICMP6, neighbor solicitation, who has fe80::1, length 24", None),
    (ether(ipv6(icmp(136, 0, bytes.fromhex("60000000fe800000000000000000000000000001")), 58), 0x86DD),
     "IP6 2001:db8::1 > 2001:db8::2: ICMP6, neighbor advertisement, tgt is fe80::1, length 24", None),
    (ether(ipv6(icmp(133, 0, bytes(4)), 58), 0x86DD),
     "IP6 2001:db8::1 > 2001:db8::2: ICMP6, router solicitation, length 8", None),
    (ether(ipv6(b"\x3a\x00" + bytes(6) + echo(128, 1, 2), 0), 0x86DD),
     "IP6 2001:db8::1 > 2001:db8::2: HBH ICMP6, echo request, id 1, seq 2, length 64", None),
    (ether(ipv6(b"x" * 8, 99), 0x86DD), "IP6 2001:db8::1 > 2001:db8::2:  ip-proto-99 8", None),
    (ether(arp(1, MAC_A, "10.0.0.1", bytes(6), "10.0.0.2"), 0x0806),
     "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
     _E + "ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
    (ether(arp(2, MAC_B, "10.0.0.2", MAC_A, "10.0.0.1"), 0x0806),
     "ARP, Reply 10.0.0.2 is-at aa:00:04:00:14:0e, length 28", None),
    (ether(arp(3, MAC_B, "10.0.0.2", MAC_A, "10.0.0.1"), 0x8035),
     "ARP, Reverse Request who-is 08:00:27:1e:28:d1 tell aa:00:04:00:14:0e, length 28", None),
    (ether(arp(4, MAC_B, "10.0.0.2", MAC_A, "10.0.0.1"), 0x8035),
     "ARP, Reverse Reply 08:00:27:1e:28:d1 at 10.0.0.1, length 28",
     _E + "ethertype Reverse ARP (0x8035), length 42: Reverse Reply 08:00:27:1e:28:d1 at 10.0.0.1, length 28"),
    (ether(vlan(_UDP, 0x0800, 100, 3), 0x8100), "IP 10.0.0.1.5555 > 10.0.0.2.40123: UDP, length 4",
     _E + "ethertype 802.1Q (0x8100), length 50: vlan 100, p 3, ethertype IPv4 (0x0800), 10.0.0.1.5555 > "
          "10.0.0.2.40123: UDP, length 4"),
    (ether(vlan(vlan(arp(1, MAC_A, "10.0.0.1", bytes(6), "10.0.0.2"), 0x0806, 7), 0x8100, 100), 0x88A8),
     "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
     _E + "ethertype 802.1Q-QinQ (0x88a8), length 50: vlan 100, p 0, ethertype 802.1Q (0x8100), vlan 7, p 0, "
          "ethertype ARP (0x0806), Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
    # tcpdump follows this line with a hex dump: the summary leaves it (and the colon) out
    (ether(b"abcdef", 0x1234), _E + "ethertype Unknown (0x1234), length 20",
     _E + "ethertype Unknown (0x1234), length 20"),
]


def _sll(payload: bytes, proto: int, pkttype: int = 0) -> bytes:
    return struct.pack("!HHH8sH", pkttype, 1, 6, MAC_A + b"\0\0", proto) + payload


_ICMP6 = ipv6(echo(128, 12, 225), 58)
_UDP_LINE = "IP 10.0.0.1.5555 > 10.0.0.2.40123: UDP, length 4"
_ICMP6_LINE = "IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 12, seq 225, length 64"

#: (linktype, frame, tcpdump -n line, tcpdump -n -e line)
OTHER_LINKS = [
    (113, _sll(_UDP, 0x800), _UDP_LINE,
     " In 08:00:27:1e:28:d1 ethertype IPv4 (0x0800), length 48: 10.0.0.1.5555 > 10.0.0.2.40123: UDP, length 4"),
    (113, _sll(_ICMP6, 0x86DD, 4), _ICMP6_LINE,
     "Out 08:00:27:1e:28:d1 ethertype IPv6 (0x86dd), length 120: " + _ICMP6_LINE[4:]),
    (276, struct.pack("!HHIHBB8s", 0x800, 0, 999, 1, 4, 6, MAC_A + b"\0\0") + _UDP,
     "ifindex 999 Out " + _UDP_LINE, None),
    (0, struct.pack("<I", 2) + _UDP, _UDP_LINE, "AF IPv4 (2), length 36: " + _UDP_LINE[3:]),
    (0, struct.pack("<I", 30) + _ICMP6, _ICMP6_LINE, "AF IPv6 (30), length 108: " + _ICMP6_LINE[4:]),
    (108, struct.pack(">I", 28) + _ICMP6, _ICMP6_LINE, "AF IPv6 (28), length 108: " + _ICMP6_LINE[4:]),
    (101, _UDP, _UDP_LINE, "ip: " + _UDP_LINE[3:]),
    (101, _ICMP6, _ICMP6_LINE, "ip: " + _ICMP6_LINE[4:]),
    (228, _UDP, _UDP_LINE, "ip: " + _UDP_LINE[3:]),
    (229, _ICMP6, _ICMP6_LINE, "ip: " + _ICMP6_LINE[4:]),
]


@pytest.mark.parametrize("frame, line, eline", ETHERNET, ids=[f"{i}:{line[:30]}" for i, (_, line, _) in
                                                              enumerate(ETHERNET)])
def test_ethernet(frame, line, eline):
    assert summarize(frame, 1) == line
    if eline is not None:
        assert summarize(frame, 1, link_header=True) == eline


@pytest.mark.parametrize("linktype, frame, line, eline", OTHER_LINKS,
                         ids=[f"{lt}:{line[:20]}" for lt, _, line, _ in OTHER_LINKS])
def test_other_link_types(linktype, frame, line, eline):
    assert summarize(frame, linktype) == line
    if eline is not None:
        assert summarize(frame, linktype, link_header=True) == eline


def test_names_ports_unless_numeric():
    frame = ether(ipv4(tcp(5555, 80, 0x10, 1, 2), 6), 0x0800)
    assert "10.0.0.2.http:" in summarize(frame, 1, numeric=False)
    assert "10.0.0.2.80:" in summarize(frame, 1)


def test_cut_packets_end_in_tcpdump_marker():
    frame = ether(ipv4(tcp(5555, 80, 0x10, 1, 2), 6), 0x0800)
    assert summarize(frame[:40], 1, wirelen=len(frame)) == "IP 10.0.0.1 > 10.0.0.2: [|tcp]"
    assert summarize(frame[:20], 1) == "IP [|ip]"
    assert summarize(b"", 1) == "[|ether]"
    assert summarize(b"abc", 147) == "link type LINKTYPE_147 (147), length 3"


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([0, 1, 101, 108, 113, 228, 229, 276]), st.binary(max_size=120),
       st.sampled_from([b"", ether(_UDP, 0x800)[:34], ether(ipv6(b"", 0), 0x86DD)[:54]]))
def test_summaries_never_raise(linktype, tail, head):
    assert isinstance(summarize(head + tail, linktype), str)
    assert isinstance(summarize(head + tail, linktype, link_header=True, numeric=False), str)


def test_timestamps():
    assert format_timestamp(52_476_122_148_000 + 123, utc=True) == "14:34:36.122148"
    assert format_timestamp(52_476_122_148_123, nanosecond=True, utc=True) == "14:34:36.122148123"


def test_hexdump():
    frame = ether(ipv4(echo(8, 7, 317), 1), 0x0800)
    dump = hexdump(frame, 1)
    assert dump.splitlines()[0] == "\t0x0000:  4500 0054 1234 0000 4001 0000 0a00 0001"
    assert dump.splitlines()[-1] == "\t0x0050:  7878 7878"
    assert hexdump(frame).splitlines()[0] == "\t0x0000:  aa00 0400 140e 0800 271e 28d1 0800 4500"
    assert hexdump(b"\1\2\3") == "\t0x0000:  0102 03"


def _tcpdump(path, *flags):
    result = subprocess.run(["tcpdump", "-S", "-n", *flags, "-r", str(path)], capture_output=True, text=True,
                            env={**os.environ, "TZ": "UTC"})
    return result.stdout.splitlines()


needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump as the reference")


@needs_tcpdump
@pytest.mark.parametrize("flags", [(), ("-e",)])
def test_tcpdump_agrees_on_the_hand_built_packets(tmp_path, flags):
    path = tmp_path / "frames.pcap"
    with PcapWriter(path, 1) as out:
        for frame, _, _ in ETHERNET:
            out.write(frame)
    lines = [line for line in _tcpdump(path, *flags) if not line.startswith("\t")]
    ours = [format_timestamp(p.timestamp_ns, utc=True) + " " + summarize(p.data, 1, link_header=bool(flags))
            for p in read_packets(path)]
    assert [line.rstrip().rstrip(":") for line in lines] == ours


@needs_tcpdump
@pytest.mark.parametrize("name", ["gateway_or_not.pcap", "rarp_req_reply.pcapng"])
def test_tcpdump_agrees_on_savefiles(name):
    path = shared_path("libpcap-tests", "savefiles", name)
    for flags in ((), ("-e",)):
        ours = [format_timestamp(p.timestamp_ns, utc=True) + " " +
                summarize(p.data, p.linktype, link_header=bool(flags), wirelen=p.wirelen) for p in read_packets(path)]
        assert _tcpdump(path, *flags) == ours


@needs_tcpdump
def test_hexdump_agrees_with_tcpdump_x():
    path = shared_path("libpcap-tests", "savefiles", "gateway_or_not.pcap")
    dumps, current = [], None
    for line in _tcpdump(path, "-x"):
        if line.startswith("\t"):
            current.append(line)
        else:
            current = []
            dumps.append(current)
    assert ["\n".join(d) for d in dumps] == [hexdump(p.data, p.linktype) for p in read_packets(path)]


def test_savefiles_summarize_without_error():
    for path in sorted(shared_path("libpcap-tests", "savefiles").iterdir()):
        for packet in read_packets(path):
            assert summarize(packet.data, packet.linktype, wirelen=packet.wirelen)
