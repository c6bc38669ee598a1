"""Packets that tell two filter programs apart, if anything does.

Two programs have the same semantics when they return the same value on every packet;
we cannot try every packet, so we try the ones that matter: well-formed frames of the
protocols filters look at (Ethernet, 802.1Q, MPLS, PPPoE, 802.3/LLC/SNAP, ARP, IPv4 with
and without options and fragments, IPv6 with and without a fragment header, TCP, UDP,
SCTP, ICMP...), then mutated so that each packet field a program tests takes the values
the program compares it against (and their neighbours), alone and in combinations, plus
truncated copies. The seed comes from the case, so every run tries the same packets.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Sequence

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction

M32 = 0xFFFF_FFFF


def _ipv4(proto: int, payload: bytes, src=0x0A000001, dst=0x0A000002, options: bytes = b"", frag: int = 0) -> bytes:
    ihl = 5 + len(options) // 4
    header = struct.pack(">BBHHHBBHII", 0x40 | ihl, 0, 20 + len(options) + len(payload), 1, frag, 64, proto, 0,
                         src, dst)
    return header + options + payload


def _ipv6(nexthdr: int, payload: bytes, src=b"\xfe\x80" + b"\0" * 13 + b"\x01", dst=b"\xff\x02" + b"\0" * 13 + b"\x01"):
    return struct.pack(">IHBB", 0x6000_0000, len(payload), nexthdr, 64) + src + dst + payload


def _tcp(sport=1234, dport=80, flags=0x02) -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 512, 0, 0) + b"payload!"


def _udp(sport=5353, dport=53) -> bytes:
    return struct.pack(">HHHH", sport, dport, 16, 0) + b"\x12\x34\x01\x00\x00\x01\x00\x00"


def _transports() -> list[tuple[int, bytes]]:
    return [(6, _tcp()), (17, _udp()), (132, struct.pack(">HHI", 7, 5672, 1) + b"\0" * 12),
            (1, b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"x" * 8), (58, b"\x80\x00\x00\x00\x00\x01\x00\x01"),
            (2, b"\x11\x64\x00\x00\xe0\x00\x00\x01"), (103, b"\x20\x00" + b"\0" * 10), (112, b"\x21" + b"\0" * 19),
            (51, b"\x06\x04" + b"\0" * 14), (50, b"\0" * 16), (9, b"\0" * 16)]


def network_payloads() -> list[tuple[int, bytes]]:
    """(ethertype, network-layer bytes) for the templates."""
    out = []
    for proto, payload in _transports():
        out.append((0x0800, _ipv4(proto, payload)))
        out.append((0x86DD, _ipv6(proto, payload)))
    out.append((0x0800, _ipv4(6, _tcp(), options=b"\x01\x01\x01\x00")))
    out.append((0x0800, _ipv4(17, _udp(), frag=0x2001)))
    out.append((0x0800, _ipv4(6, _tcp(), src=0xC0A80001, dst=0xE0000001)))
    out.append((0x0800, _ipv4(17, _udp(), dst=0xFFFFFFFF)))
    out.append((0x86DD, _ipv6(44, struct.pack(">BBHI", 6, 0, 0, 1) + _tcp())))
    out.append((0x86DD, _ipv6(44, struct.pack(">BBHI", 58, 0, 0, 1) + b"\x80\0\0\0\0\1\0\1")))
    arp = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + b"\x02\0\0\0\0\1" + struct.pack(">I", 0x01020304) + \
        b"\0" * 6 + struct.pack(">I", 0x0A000002)
    out.append((0x0806, arp))
    out.append((0x8035, arp))
    return out


def _ethernet_frames(tag: bytes = b"") -> list[bytes]:
    """Ethernet II, 802.1Q/QinQ, MPLS, PPPoE and 802.3 LLC/SNAP frames; ``tag`` (a switch's
    DSA tag) goes between the source address and the type/length field."""
    dst, src = b"\x01\x00\x5e\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
    payloads = network_payloads()
    frames = []
    for ethertype, payload in payloads:
        frames.append(dst + src + tag + struct.pack(">H", ethertype) + payload)
        frames.append(dst + src + tag + b"\x81\x00\x00\x0a" + struct.pack(">H", ethertype) + payload)
    ip_tcp = _ipv4(6, _tcp())
    frames.append(b"\xff" * 6 + src + tag + b"\x08\x06" + payloads[-2][1])
    frames.append(dst + src + tag + b"\x88\xa8\x00\x64\x81\x00\x00\x0a\x08\x00" + ip_tcp)
    frames.append(dst + src + tag + b"\x88\x47\x00\x06\x41\x40" + ip_tcp)                       # MPLS, bottom
    frames.append(dst + src + tag + b"\x88\x47\x00\x06\x40\x40\x00\x06\x51\x40" + ip_tcp)       # two labels
    frames.append(dst + src + tag + b"\x88\x64\x11\x00\x00\x01\x00\x40\x00\x21" + ip_tcp)       # PPPoE session
    frames.append(dst + src + tag + b"\x88\x63\x11\x09\x00\x00\x00\x00")                         # PPPoE discovery
    for llc in (b"\xfe\xfe\x03\x83\x1b\x01\x00\x12", b"\xfe\xfe\x03\x81\x1b\x01\x00\x12",
                b"\x42\x42\x03\x00\x00\x00\x00\x00", b"\xe0\xe0\x03\xff\xff\x00\x00\x00",
                b"\xff\xff\x00\x20\x00\x00\x00\x00", b"\xf0\xf0\x03\x00\x00\x00\x00\x00",
                b"\xaa\xaa\x03\x08\x00\x07\x80\x9b\x00\x00", b"\xaa\xaa\x03\x00\x00\x00\x80\xf3\x00\x00",
                b"\xaa\xaa\x03\x00\x00\x00\x81\x37\x00\x00", b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + ip_tcp):
        frames.append(dst + src + tag + struct.pack(">H", len(llc)) + llc + b"\0" * 16)
    return frames


#: the radio headers 802.11 frames are probed behind, per link type
RADIO_HEADERS = {
    "IEEE802_11": [b""],
    "IEEE802_11_RADIO": [b"\x00\x00\x08\x00\x00\x00\x00\x00",                           # nothing present
                         b"\x00\x00\x0a\x00\x02\x00\x00\x00\x20\x00",                   # flags: datapad
                         b"\x00\x00\x12\x00\x03\x00\x00\x00" + b"\0" * 8 + b"\x20\x00"], # TSFT + flags
    # AVS: magic and version, then its length (64)
    "IEEE802_11_RADIO_AVS": [b"\x80\x21\x10\x01\x00\x00\x00\x40" + b"\x11" * 56,
                             b"\x80\x21\x10\x01\x00\x00\x00\x30" + b"\x22" * 40],
    # Prism: a fixed 144 bytes (message code, length, device name, items), or AVS in its place
    "PRISM_HEADER": [b"\x41\x00\x00\x00\x90\x00\x00\x00" + b"wlan0".ljust(16, b"\0") + b"\x01" * 120,
                     b"\x80\x21\x10\x01\x00\x00\x00\x40" + b"\x11" * 56],
    # PPI: version, flags, length (little-endian), DLT (105: 802.11; 1: Ethernet, not followed)
    "PPI": [b"\x00\x00\x08\x00\x69\x00\x00\x00",
            b"\x00\x00\x20\x00\x69\x00\x00\x00\x02\x00\x14\x00" + b"\x33" * 20,
            b"\x00\x00\x08\x00\x01\x00\x00\x00"],
}


def link_frames(linktype: str) -> list[bytes]:
    """Whole frames of ``linktype`` built from :func:`network_payloads`."""
    dst, src = b"\x01\x00\x5e\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
    payloads = network_payloads()
    frames = []
    if linktype == "EN10MB":
        frames = _ethernet_frames()
    elif linktype in ("DSA_TAG_BRCM", "DSA_TAG_DSA"):
        # Broadcom: opcode in the top 3 bits (0 ingress, 1 egress); Marvell: to/from CPU, forward
        for first in ((0x00, 0x20, 0x40) if linktype == "DSA_TAG_BRCM" else (0x00, 0x40, 0xC0)):
            frames += _ethernet_frames(bytes([first, 0x00, 0x00, 0x05]))
    elif linktype in ("NETANALYZER", "NETANALYZER_TRANSPARENT"):
        # the pseudo-header (status, length); the transparent form keeps preamble and SFD
        prefix = b"\x00\x00\x40\x05" + (b"\x55" * 7 + b"\xd5" if linktype == "NETANALYZER_TRANSPARENT" else b"")
        frames = [prefix + f for f in _ethernet_frames()]
    elif linktype in ("SLIP", "SLIP_BSDOS"):
        # SLIP: direction byte, then the (compressed) link header saved by the driver
        header_length = 16 if linktype == "SLIP" else 24
        for direction in (0, 1, 2):
            for ethertype, payload in payloads[:8] + payloads[-4:]:
                if ethertype in (0x0800, 0x86DD):
                    frames.append(bytes([direction]) + payload[:header_length - 1] + payload)
    elif linktype in ("PPP_PPPD", "PPP_ETHER", "PPP_BSDOS"):
        ppp = {0x0800: 0x0021, 0x86DD: 0x0057}
        for ethertype, payload in payloads:
            code = ppp.get(ethertype, ethertype)
            if linktype == "PPP_PPPD":
                heads = [bytes([direction, 0x03]) for direction in (0, 1, 2)]
            elif linktype == "PPP_ETHER":
                heads = [b"\x11\x00\x00\x01" + struct.pack(">H", len(payload) + 2)]
            else:
                codes = (code, 0x002D, 0x002F) if code == 0x0021 else (code,)
                heads = [b"\x00\x00\x00\xff\x03" for _ in codes]
                frames += [b"\x00\x00\x00\xff\x03" + struct.pack(">H", c_) + b"\0" * 17 + payload for c_ in codes]
                continue
            frames += [head + struct.pack(">H", code) + payload for head in heads]
    elif linktype in ("ATM_RFC1483", "ATM_CLIP"):
        for ethertype, payload in payloads:
            frames.append(b"\xaa\xaa\x03\x00\x00\x00" + struct.pack(">H", ethertype) + payload)
        frames.append(b"\xfe\xfe\x03\x83\x1b\x01\x00\x12" + b"\0" * 20)
        frames.append(b"\x42\x42\x03" + b"\0" * 30)
    elif linktype == "ENC":
        for ethertype, payload in payloads:
            if ethertype in (0x0800, 0x86DD):
                for family in ((2,) if ethertype == 0x0800 else (24, 28, 30)):
                    for order in ("<", ">"):
                        frames.append(struct.pack(order + "I", family) + b"\0\0\x10\x01\0\0\0\x03" + payload)
    elif linktype == "IPNET":
        for ethertype, payload in payloads:
            family = {0x0800: 2, 0x86DD: 26}.get(ethertype, 0)
            for direction in (1, 2):
                frames.append(struct.pack(">BBHIIII", 1, family, direction, len(payload), 2, 0, 0) + payload)
    elif linktype == "JUNIPER_MFR":
        for flags in (0x00, 0x01):
            for _ethertype, payload in payloads[:6]:
                frames.append(b"MGC" + bytes([flags]) + payload)
            frames.append(b"MGD" + bytes([flags]) + payloads[0][1])
    elif linktype == "LTALK":
        frames = [b"\x05\x02\x02" + b"\x00\x14" + b"\0" * 20, b"\xff\x02\x01" + b"\0" * 20]
    elif linktype == "FRELAY":
        for nlpid, payload in ((0xCC, payloads[0][1]), (0x8E, payloads[1][1]), (0x81, b"\x1b\x01\x00" + b"\0" * 30),
                               (0x82, b"\x09\x01\x00\x02" + b"\0" * 20), (0x83, b"\x1b\x01\x00\x12" + b"\0" * 20),
                               (0x80, b"\x00\x00\x00\x08\x00" + payloads[0][1])):
            frames.append(b"\x18\x41\x03" + bytes([nlpid]) + payload)
    elif linktype == "SYMANTEC_FIREWALL":
        for ethertype, payload in payloads:
            frames.append(b"\0" * 6 + struct.pack(">H", ethertype) + b"\0" * 36 + payload)
    elif linktype == "APPLE_IP_OVER_IEEE1394":
        for ethertype, payload in payloads:
            frames.append(b"\x00\x11\x22\x33\x44\x55\x66\x77" + b"\x08\x00\x07\xff\xfe\x00\x00\x01"
                          + struct.pack(">H", ethertype) + payload)
    elif linktype in ("RAW", "IPV4", "IPV6"):
        frames = [p for e, p in payloads if e in (0x0800, 0x86DD)]
    elif linktype == "LINUX_SLL":
        for pkttype in (0, 4):
            for ethertype, payload in payloads:
                frames.append(struct.pack(">HHH", pkttype, 1, 6) + src + b"\0\0" + struct.pack(">H", ethertype)
                              + payload)
        frames.append(struct.pack(">HHH", 0, 1, 6) + src + b"\0\0\x00\x04" + b"\xfe\xfe\x03\x83" + b"\0" * 20)
    elif linktype == "LINUX_SLL2":
        for pkttype in (0, 4):
            for ethertype, payload in payloads:
                frames.append(struct.pack(">HHIHBB", ethertype, 0, 7, 1, pkttype, 6) + src + b"\0\0" + payload)
    elif linktype in ("PPP", "PPP_SERIAL", "C_HDLC"):
        ppp = {0x0800: 0x0021, 0x86DD: 0x0057}
        for ethertype, payload in payloads:
            code = ppp.get(ethertype, ethertype) if linktype != "C_HDLC" else ethertype
            frames.append(b"\xff\x03" + struct.pack(">H", code) + payload)
        frames.append(b"\x0f\x00\xfe\xfe" + b"\x03\x83\x1b\x01\x00\x12" + b"\0" * 20)
        frames.append(b"\xff\x03\x00\x23" + b"\x83\x1b\x01\x00\x12" + b"\0" * 20)
        frames.append(b"\xff\x03\x02\x81\x00\x06\x41\x40" + _ipv4(6, _tcp()))
    elif linktype == "PFLOG":
        for ethertype, payload in payloads:
            if ethertype in (0x0800, 0x86DD):
                header = bytes([61, 2 if ethertype == 0x0800 else 24]) + b"\0" * 59
                frames.append(header + b"\0\0\0" + payload)          # length 61 rounds up to 64
    elif linktype in RADIO_HEADERS:
        radiotaps = RADIO_HEADERS[linktype]
        a1, a2, a3, a4 = b"\x01\x00\x5e\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02", b"\xff" * 6, b"\x02" * 6
        snap = b"\xaa\xaa\x03\x00\x00\x00"
        for radiotap in radiotaps:
            pad = b"\0\0" if linktype == "IEEE802_11_RADIO" and radiotap[-2:-1] == b"\x20" else b""
            for fc0, fc1 in ((0x08, 0x01), (0x08, 0x02), (0x08, 0x03), (0x88, 0x00), (0x88, 0x01), (0x80, 0x00),
                             (0x40, 0x00), (0xB4, 0x00), (0xC4, 0x00), (0xD4, 0x00), (0x48, 0x00)):
                header = bytes([fc0, fc1]) + b"\0\0" + a1 + a2 + a3 + b"\0\0" + (a4 if fc1 == 3 else b"")
                if fc0 & 0x80 and fc0 & 0x08:
                    header += b"\0\0"
                for ethertype, payload in payloads[:6] + payloads[-2:]:
                    frames.append(radiotap + header + pad + snap + struct.pack(">H", ethertype) + payload)
                frames.append(radiotap + header + pad + b"\xfe\xfe\x03\x83" + b"\0" * 20)
                frames.append(radiotap + header + pad + b"\x42\x42\x03" + b"\0" * 20)
    elif linktype in ("FDDI", "IEEE802", "IP_OVER_FC"):
        prefix = {"FDDI": b"\x50", "IEEE802": b"\x10\x40", "IP_OVER_FC": b"\0\0"}[linktype]
        middle = b"\0" * 4 if linktype == "IP_OVER_FC" else b""
        for ethertype, payload in payloads:
            frames.append(prefix + dst + src + middle + b"\xaa\xaa\x03\x00\x00\x00" + struct.pack(">H", ethertype)
                          + payload)
        for llc in (b"\xfe\xfe\x03\x83\x1b\x01\x00\x12", b"\x42\x42\x03\x00\x00\x00\x00\x00",
                    b"\xaa\xaa\x03\x08\x00\x07\x80\x9b\x00\x00", b"\xe0\xe0\x03\xff\xff\x00\x00\x00"):
            frames.append(prefix + b"\xff" * 6 + src + middle + llc + b"\0" * 24)
    elif linktype in ("NULL", "LOOP"):
        for ethertype, payload in payloads:
            if ethertype not in (0x0800, 0x86DD):
                continue
            for family in ((2,) if ethertype == 0x0800 else (10, 24, 28, 30)):
                frames.append(struct.pack(">I", family) + payload)
                frames.append(struct.pack("<I", family) + payload)
    elif linktype in ("ARCNET", "ARCNET_LINUX"):
        # source, destination, (Linux: a 2-byte offset,) protocol ID, split flag, sequence
        types = {0x0800: 0xD4, 0x86DD: 0xC4, 0x0806: 0xD5, 0x8035: 0xD6}
        for ethertype, payload in payloads:
            for src_, dst_ in ((0x8C, 0xA4), (0x0E, 0x00), (0xC0, 0x0E)):
                middle = b"\0\0" if linktype == "ARCNET_LINUX" else b""
                frames.append(bytes([src_, dst_]) + middle + bytes([types[ethertype], 0, 0, 1]) + payload)
        frames.append(b"\x01\x02" + (b"\0\0" if linktype == "ARCNET_LINUX" else b"") + b"\xdd\0\0\1" + b"\0" * 30)
    elif linktype == "BACNET_MS_TP":
        # preamble, frame type, destination, source, length, header CRC, data
        for frame_type, dst_, src_ in ((0, 0xFF, 0x7E), (5, 0x07, 0x01), (6, 0xA9, 0xA8), (1, 0xB3, 0xB3), (2, 0, 0xA7)):
            frames.append(bytes([0x55, 0xFF, frame_type, dst_, src_, 0, 8, 0x5A]) + b"\x01\x20" + b"\0" * 8)
    elif linktype == "SUNATM":
        # flags (low nibble 1: LANE, 2: LLC), VPI, VCI; then LLC/SNAP, LANE or signalling
        dst, src = b"\x01\x00\x5e\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
        for ethertype, payload in payloads:
            frames.append(b"\x02\x0a\x4e\x21" + b"\xaa\xaa\x03\x00\x00\x00" + struct.pack(">H", ethertype) + payload)
            frames.append(b"\x01\x00\x00\x20" + b"\x00\x01" + dst + src + struct.pack(">H", ethertype) + payload)
        frames.append(b"\x01\x00\x00\x20" + b"\xff\x00" + b"\x01\x01\x00\x01" + b"\0" * 40)   # LE control
        frames.append(b"\x02\x00\x00\x05" + b"\xfe\xfe\x03\x83" + b"\0" * 20)
        for vci, message in ((5, 0x05), (5, 0x07), (1, 0x4D), (1, 0x0F), (3, 0), (4, 0), (2, 0), (16, 0), (20, 0)):
            for vpi in (0, 1):
                frames.append(bytes([0x00, vpi]) + struct.pack(">H", vci) + b"\x09\x03\x00\x00\x01"
                              + bytes([message]) + b"\0" * 12)
    elif linktype in ("MTP2", "MTP2_WITH_PHDR"):
        frames = _mtp2_frames(b"\0\0\0\0" if linktype == "MTP2_WITH_PHDR" else b"")
    return frames


def _mtp2_frames(phdr: bytes) -> list[bytes]:
    """Fill-in, link-status and message signal units, on ordinary and high-speed
    (annex A: 2-byte sequence numbers and length indicator) links; routing labels with
    assorted point codes."""
    frames = []
    labels = [struct.pack("<I", dpc | opc << 14 | sls << 28) for dpc, opc, sls in
              ((1, 2, 9), (2, 1, 9), (0x31D6, 0x3B35, 3), (0x1273, 0x607, 5), (0x3FFF, 0x3FFF, 15), (0, 0, 0))]
    for li in (0, 1, 2, 3, 0x2F, 0x3F):
        for sio, label in zip((0x83, 0xD2, 0x49, 0xA2, 0x05, 0x00), labels):
            frames.append(phdr + b"\x81\x82" + bytes([li | 0x40, sio]) + label + b"\x01\x02\x03\x04")
            frames.append(phdr + b"\x01\x80\x02\x80" + struct.pack("<H", li | 0x1000)[::-1] + bytes([sio])
                          + label + b"\x01\x02\x03\x04")
    return frames


def _constraints(program: Sequence[Instruction]) -> list[tuple[str, int, int, int]]:
    """(mode, offset, size-in-bytes, value) pairs: a field the program loads and a
    value it compares that field with."""
    out = []
    for pc, ins in enumerate(program):
        cls = c.cls(ins.code)
        if cls != c.LD or c.mode(ins.code) not in (c.ABS, c.IND):
            continue
        size = c.SIZE_BYTES.get(c.size(ins.code), 4)
        mode = "abs" if c.mode(ins.code) == c.ABS else "ind"
        mask = M32
        values = []
        for follow in program[pc + 1:pc + 4]:
            fcls = c.cls(follow.code)
            if fcls == c.ALU and c.op(follow.code) == c.AND and c.src(follow.code) == c.K:
                mask = follow.k
                continue
            if fcls == c.JMP and c.src(follow.code) == c.K and c.op(follow.code) != c.JA:
                values += [follow.k, follow.k + 1, follow.k - 1] if c.op(follow.code) != c.JSET else [follow.k, 0]
            break
        for value in values:
            out.append((mode, ins.k, size, value & mask & ((1 << (8 * size)) - 1)))
        if not values:
            out.append((mode, ins.k, size, 0))
    return out


#: X values indirect loads are tried with (IPv4 header lengths without and with options)
_HEADER_LENGTHS = (20, 24)


def probe(programs: Sequence[Sequence[Instruction]], linktype: str, seed: str, extra: Sequence[bytes] = (),
          count: int = 400) -> list[bytes]:
    """Frames to run both programs on: templates, captured packets, mutations, truncations."""
    rng = random.Random(zlib.crc32(seed.encode()))
    templates = link_frames(linktype) + list(extra)
    constraints = sorted({k for p in programs for k in _constraints(p)})
    packets = list(templates)
    for _ in range(count):
        frame = bytearray(rng.choice(templates))
        chosen = [k for k in constraints if rng.random() < 0.3] if constraints else []
        for mode, offset, size, value in chosen:
            if mode == "ind":
                offset += rng.choice(_HEADER_LENGTHS)
            if offset < 0 or offset >= 1 << 20:
                continue
            if offset + size > len(frame):
                frame.extend(b"\0" * (offset + size - len(frame)))
            frame[offset:offset + size] = value.to_bytes(size, "big")
        packets.append(bytes(frame))
    for frame in list(packets[: len(templates)]):
        packets.append(frame[: rng.randrange(0, len(frame) + 1)])
    return packets


def ancillary_data(programs: Sequence[Sequence[Instruction]]) -> list[dict[str, int]]:
    """Linux packet metadata to run live-capture programs with (the cBPF interpreter's
    keywords): no VLAN tag in metadata, or one carrying each VLAN ID the programs
    compare (and a neighbour), each with priority bits set too; incoming and outgoing
    packets; the interface indexes the programs compare."""
    constants = {ins.k for p in programs for ins in p
                 if c.cls(ins.code) == c.JMP and c.src(ins.code) == c.K and c.op(ins.code) != c.JA}
    vids = sorted({k & 0x0FFF for k in constants} | {0})
    out: list[dict[str, int]] = [{}, {"pkttype": 4}]
    for vid in vids:
        for tci in (vid, vid | 0xA000, (vid + 1) & 0x0FFF):
            out.append({"vlan_avail": 1, "vlan_tci": tci})
    out += [{"ifindex": k} for k in sorted(constants)[:8]]
    return out
