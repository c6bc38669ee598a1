"""Building packets byte by byte for the summary, writer and live-capture tests (the
fields tcpdump prints, with checksums left zero: tcpdump does not check them by default)."""

from __future__ import annotations

import ipaddress
import struct

MAC_A, MAC_B = bytes.fromhex("0800271e28d1"), bytes.fromhex("aa000400140e")


def ether(payload: bytes, ethertype: int, src: bytes = MAC_A, dst: bytes = MAC_B) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def vlan(payload: bytes, ethertype: int, vid: int, pcp: int = 0) -> bytes:
    return struct.pack("!HH", pcp << 13 | vid, ethertype) + payload


def ipv4(payload: bytes, proto: int, src: str = "10.0.0.1", dst: str = "10.0.0.2", ttl: int = 64,
         frag: int = 0) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, frag, ttl, proto, 0,
                       ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed) + payload


def ipv6(payload: bytes, nxt: int, src: str = "2001:db8::1", dst: str = "2001:db8::2") -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def tcp(sport: int, dport: int, flags: int, seq: int = 1, ack: int = 0, win: int = 512, payload: bytes = b"",
        options: bytes = b"", urg: int = 0) -> bytes:
    options += b"\0" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, win, 0, urg) + options + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(kind: int, code: int, rest: bytes) -> bytes:
    return struct.pack("!BBH", kind, code, 0) + rest


def echo(kind: int, ident: int, seq: int, data: bytes = b"x" * 56) -> bytes:
    return icmp(kind, 0, struct.pack("!HH", ident, seq) + data)


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".") if p) + b"\0"


def dns_query(ident: int, name: str, qtype: int = 1, rd: bool = True) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100 if rd else 0, 1, 0, 0, 0)
    return header + dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_response(ident: int, name: str, answers: list[tuple[int, bytes]], rcode: int = 0) -> bytes:
    """A response to an A query; each answer is (type, rdata), owner compressed to the question."""
    out = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, len(answers), 0, 0)
    out += dns_name(name) + struct.pack("!HH", 1, 1)
    for rtype, rdata in answers:
        out += struct.pack("!HHHIH", 0xC00C, rtype, 1, 300, len(rdata)) + rdata
    return out


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ipaddress.IPv4Address(spa).packed, tha,
                       ipaddress.IPv4Address(tpa).packed)
