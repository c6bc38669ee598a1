"""Random expressions drawn from the pcap-filter grammar keep the same packets as
tcpdump's, on a capture of generated frames (every protocol the probe set knows, with
field values the expressions test, and truncated copies) plus tcpdump's own test
captures. Seeded, so every run draws the same expressions; PYBPF_FILTER_FUZZ=N draws N
(the CI size is small), PYBPF_FILTER_SEED=S draws another set."""

from __future__ import annotations

import os
import random

from probe_packets import link_frames
from tcpdump_oracle import fault_marking, needs_tcpdump, pybpf_kept, tcpdump_kept, write_pcap
from test_filter_compile import _reach

from pybpf.capture import read_packets
from pybpf.filter import FilterError, compile_filter
from shared_data import SHARED

COUNT = int(os.environ.get("PYBPF_FILTER_FUZZ", "60"))
SEED = int(os.environ.get("PYBPF_FILTER_SEED", "20261207"))

HOSTS = ["10.0.0.1", "10.0.0.2", "192.168.1.1", "fe80::1", "ff02::1"]
PORTS = ["53", "80", "443", "22", "1234", "5353", "domain", "http"]


def _primitive(rng: random.Random) -> str:
    kind = rng.randrange(12)
    if kind == 0:
        return rng.choice(["ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "sctp", "vlan", "mpls", "rarp",
                           "igmp", "pim", "stp", "llc"])
    if kind == 1:
        return f"{rng.choice(['', 'src ', 'dst '])}host {rng.choice(HOSTS)}"
    if kind == 2:
        return f"{rng.choice(['', 'tcp ', 'udp ', 'sctp '])}{rng.choice(['', 'src ', 'dst '])}port {rng.choice(PORTS)}"
    if kind == 3:
        return rng.choice(["net 10.0.0.0/8", "dst net 192.168", "src net 10.0.0.0 mask 255.255.255.0",
                           "ip6 net fe80::/10", "net 224.0.0.0/4"])
    if kind == 4:
        return f"portrange {rng.randrange(1, 100)}-{rng.randrange(100, 2000)}"
    if kind == 5:
        # not `ip multicast`: libpcap 1.10.3 (Debian's tcpdump) tests ">= 224", its master
        # and pybpf 224.0.0.0/4 (docs/filter-language.md)
        return rng.choice(["broadcast", "multicast", "ip6 multicast", "ether broadcast"])
    if kind == 6:
        return f"{rng.choice(['less', 'greater'])} {rng.randrange(20, 120)}"
    if kind == 7:
        return rng.choice(["tcp[tcpflags] & tcp-syn != 0", "tcp[13] & 0x12 == 0x12", "icmp[icmptype] == icmp-echo",
                           "ip[8] > 32", "ip6[6] == 17", "udp[4:2] > 12", "ip[6:2] & 0x1fff == 0"])
    if kind == 8:
        return _relation(rng)
    if kind == 9:
        return f"byte {rng.randrange(0, 40)} {rng.choice(['=', '<', '>'])} {rng.randrange(256)}"
    if kind == 10:
        return rng.choice(["vlan 10", "vlan and ip", "ether proto 0x88cc", "ip proto 17", "ip6 proto 58",
                           "proto 6", "mpls 100"])
    return f"ether {rng.choice(['', 'src ', 'dst '])}host {rng.choice(['00:11:22:33:44:55', '0200.0000.0001', 'ff-ff-ff-ff-ff-ff'])}"


def _operand(rng: random.Random, depth: int = 0) -> str:
    choice = rng.randrange(6 if depth < 2 else 3)
    if choice == 0:
        return str(rng.choice([0, 1, 2, 4, 14, 20, 0x45, 0xF, 0xF0, 255]))
    if choice == 1:
        return f"{rng.choice(['ip', 'tcp', 'udp', 'ether', 'icmp'])}[{rng.randrange(0, 24)}{rng.choice(['', ':2', ':1'])}]"
    if choice == 2:
        return "len"
    op = rng.choice(["+", "-", "*", "&", "|", "<<", ">>"])
    right = str(rng.randrange(1, 8)) if op in ("<<", ">>") else _operand(rng, depth + 1)
    return f"({_operand(rng, depth + 1)} {op} {right})"


def _relation(rng: random.Random) -> str:
    return f"{_operand(rng)} {rng.choice(['=', '!=', '<', '>', '<=', '>='])} {_operand(rng)}"


def expression(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.35:
        return _primitive(rng)
    if roll < 0.5:
        return f"not {expression(rng, depth + 1)}"
    joiner = rng.choice([" and ", " or "])
    return f"({expression(rng, depth + 1)}{joiner}{expression(rng, depth + 1)})"


def _capture() -> list[tuple[bytes, int]]:
    frames = link_frames("EN10MB")
    packets = [(f, len(f)) for f in frames] + [(f[:n], len(f)) for f in frames for n in (14, 21, 34, 40, 54)]
    savefiles = SHARED / "libpcap-tests" / "savefiles"
    for name in ("ah-ipip-ping.pcap", "AH-IPcomp-IPv4.pcap", "AH-IPcomp-IPv6.pcap"):
        path = savefiles / name
        if path.exists():
            packets += [(p.data, p.wirelen) for p in read_packets(path) if p.linktype == 1]
    return packets


@needs_tcpdump
def test_random_expressions_keep_tcpdumps_packets(tmp_path):
    rng = random.Random(SEED)
    packets = _capture()
    path = tmp_path / "fuzz.pcap"
    write_pcap(path, packets)
    compared = 0
    for _ in range(COUNT):
        text = expression(rng)
        try:
            program = compile_filter(text)
        except FilterError as error:
            program = None
            proven_empty = "rejects all packets" in str(error)
        try:
            expected = tcpdump_kept(path, text)
        except RuntimeError as refusal:
            if "rejects all packets" in str(refusal) and program is not None:
                # libpcap's optimizer proved it empty where pybpf's did not: keep nothing too
                assert not pybpf_kept(program, packets), text
                continue
            assert program is None, f"tcpdump refuses {text!r}, pybpf compiles it"
            continue
        if program is None:
            # pybpf's optimizer proves more expressions empty than libpcap's does; both
            # then keep nothing, which is what is compared
            assert proven_empty and not expected, f"pybpf refuses {text!r}, tcpdump compiles it"
            continue
        kept = pybpf_kept(program, packets)
        # a truncated copy counts where libpcap's answer does not depend on its optimizer
        # (tcpdump -O agrees) and pybpf's unoptimized program reads within its end:
        # elsewhere the two optimizers drop different loads (docs/filter-language.md)
        plain_expected = tcpdump_kept(path, text, "-O")
        read_within = pybpf_kept(fault_marking(compile_filter(text, optimize=False)), packets)
        settled = {i for i, (data, wire) in enumerate(packets)
                   if len(data) >= wire or (i in read_within and (i in expected) == (i in plain_expected))}
        assert kept & settled == expected & settled, text
        # optimized and not agree where no load of the plain program runs off the end
        # (both optimizers drop loads whose values cannot change the answer)
        plain = compile_filter(text, optimize=False)
        whole = {i for i, (data, wire) in enumerate(packets) if len(data) >= _reach(plain)}
        assert pybpf_kept(plain, packets) & whole == kept & whole, f"-O differs: {text}"
        compared += 1
    assert compared >= COUNT // 2
