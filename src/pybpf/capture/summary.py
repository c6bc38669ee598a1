"""One-line packet summaries in tcpdump's shape, its timestamps and its hex dump.

``summarize(data, linktype)`` reads like ``tcpdump -n`` (``IP 10.0.0.1.80 > 10.0.0.2.5555:
Flags [S.], seq 1, ack 2, win 512, length 0``); ``link_header=True`` adds the link-layer
header as ``tcpdump -e`` does, which (as in tcpdump) replaces the ``IP``/``IP6``/``ARP,``
prefix with the ethertype. Decoded: Ethernet, 802.1Q/802.1ad VLAN tags, Linux cooked
(SLL, SLL2), BSD loopback (NULL, LOOP), raw IP; ARP/RARP, IPv4, IPv6, TCP, UDP, ICMP,
ICMPv6 and DNS (see :mod:`pybpf.capture.inet` and :mod:`pybpf.capture.dns`). A packet cut
short by the snapshot length ends in tcpdump's ``[|proto]`` marker; a summary never raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pybpf.capture import inet
from pybpf.capture._fields import Truncated, ip4, mac, unpack
from pybpf.capture.packet import LinkType, linktype_name

ETHERTYPES = {0x0800: "IPv4", 0x0806: "ARP", 0x8035: "Reverse ARP", 0x86DD: "IPv6", 0x8100: "802.1Q",
              0x88A8: "802.1Q-QinQ", 0x9100: "802.1Q-9100", 0x9000: "Loopback", 0x88CC: "LLDP",
              0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x8863: "PPPoE D", 0x8864: "PPPoE S",
              0x888E: "EAPOL", 0x88E5: "MACsec", 0x22F0: "AVTP"}
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_SLL_DIRECTIONS = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}
#: BSD address families of DLT_NULL/DLT_LOOP headers (IPv6 differs between the BSDs)
_NULL_FAMILIES = {2: "IPv4", 24: "IPv6", 28: "IPv6", 30: "IPv6"}
_NULL_FAMILY_ETHERTYPE = {"IPv4": 0x0800, "IPv6": 0x86DD}


def summarize(packet_bytes: bytes, linktype: int, numeric: bool = True, link_header: bool = False,
              wirelen: int | None = None) -> str:
    """A one-line summary of a packet of the given link type.

    ``numeric=False`` names well-known ports from the services database; addresses stay
    numeric (a reverse DNS lookup per packet would be slow and visible on the network).
    ``wirelen`` is the length on the wire, when the capture kept less.
    """
    length = len(packet_bytes) if wirelen is None else wirelen
    try:
        return _LINKS[linktype](packet_bytes, length, numeric, link_header)
    except KeyError:
        return f"link type {linktype_name(linktype)} ({linktype}), length {length}"


def ethertype_name(ethertype: int) -> str:
    return ETHERTYPES.get(ethertype, "Unknown")


def _payload(ethertype: int, data: bytes, length: int, numeric: bool, link_header: bool) -> str | None:
    """The network-layer summary for an ethertype, or ``None`` if it is not decoded. With
    the link header shown, the ``IP``/``IP6``/``ARP,`` prefix is left out (tcpdump -e)."""
    prefix = not link_header
    if ethertype == 0x0800:
        return inet.ipv4(data, length, prefix, numeric)
    if ethertype == 0x86DD:
        return inet.ipv6(data, length, prefix, numeric)
    if ethertype in (0x0806, 0x8035):
        return ("ARP, " if prefix else "") + arp(data, length)
    return None


def _ethertype_header(ethertype: int) -> str:
    return f"ethertype {ethertype_name(ethertype)} (0x{ethertype:04x})"


def _ethernet(data: bytes, length: int, numeric: bool, link_header: bool) -> str:
    try:
        dst, src, ethertype = unpack("6s6sH", data)
    except Truncated:
        return "[|ether]"
    macs = f"{mac(src)} > {mac(dst)}"
    if ethertype <= 1500:                       # an 802.3 length: LLC follows
        return f"{macs}, 802.3, length {ethertype}: {llc(data[14:], ethertype)}" if link_header \
            else llc(data[14:], ethertype)
    shown = [f"{macs}, {_ethertype_header(ethertype)}, length {length}: "] if link_header else []
    offset = 14
    while ethertype in _VLAN_TAGS:
        try:
            tci, ethertype = unpack("HH", data, offset)
        except Truncated:
            return "".join(shown) + "[|vlan]"
        offset += 4
        dei = ", DEI" if tci & 0x1000 else ""
        shown.append(f"vlan {tci & 0xFFF}, p {tci >> 13}{dei}, {_ethertype_header(ethertype)}, ")
    if not link_header:
        shown = []
    text = _payload(ethertype, data[offset:], length - offset, numeric, link_header)
    if text is None:                            # not decoded: show the header, as tcpdump does
        if link_header:
            return "".join(shown).rstrip(", :")
        return f"{macs}, {_ethertype_header(ethertype)}, length {length}"
    return "".join(shown) + text


def llc(data: bytes, length: int) -> str:
    """An 802.2 LLC header (dsap, ssap, control)."""
    try:
        dsap, ssap, ctrl = unpack("BBB", data)
    except Truncated:
        return "[|llc]"
    return (f"LLC, dsap 0x{dsap & 0xFE:02x} {'Group' if dsap & 1 else 'Individual'}, "
            f"ssap 0x{ssap & 0xFE:02x} {'Response' if ssap & 1 else 'Command'}, ctrl 0x{ctrl:02x}, length {length}")


def arp(data: bytes, length: int) -> str:
    """ARP and RARP for Ethernet/IPv4 (``Request who-has 10.0.0.2 tell 10.0.0.1``)."""
    try:
        hrd, pro, hln, pln, op = unpack("HHBBH", data)
        if hrd != 1 or pro != 0x0800 or hln != 6 or pln != 4:
            return f"hrd {hrd}, pro 0x{pro:04x}, op {op}, length {length}"
        sha, spa, tha, tpa = unpack("6s4s6s4s", data, 8)
    except Truncated:
        return "[|arp]"
    if op == 1:
        known = f" ({mac(tha)})" if any(tha) else ""
        text = f"Request who-has {ip4(tpa)}{known} tell {ip4(spa)}"
    elif op == 2:
        text = f"Reply {ip4(spa)} is-at {mac(sha)}"
    elif op == 3:
        text = f"Reverse Request who-is {mac(tha)} tell {mac(sha)}"
    elif op == 4:
        text = f"Reverse Reply {mac(tha)} at {ip4(tpa)}"
    else:
        text = f"unknown op {op}"
    return f"{text}, length {length}"


def _sll(data: bytes, length: int, numeric: bool, link_header: bool) -> str:
    try:
        pkttype, _hatype, halen, addr, ethertype = unpack("HHH8sH", data)
    except Truncated:
        return "[|sll]"
    head = ""
    if link_header:
        direction = _SLL_DIRECTIONS.get(pkttype, str(pkttype))
        head = f"{direction:>3} {mac(addr[:min(halen, 8)])} {_ethertype_header(ethertype)}, length {length}: "
    text = _payload(ethertype, data[16:], length - 16, numeric, link_header)
    return head + (text if text is not None else _ethertype_header(ethertype))


def _sll2(data: bytes, length: int, numeric: bool, link_header: bool) -> str:
    try:
        ethertype, _res, ifindex, _hatype, pkttype, halen, addr = unpack("HHIHBB8s", data)
    except Truncated:
        return "[|sll2]"
    import socket  # for SLL2 captures only (~3 ms of a start-up)

    try:
        ifname = socket.if_indextoname(ifindex)
    except OSError:
        ifname = f"ifindex {ifindex}"
    direction = _SLL_DIRECTIONS.get(pkttype, str(pkttype))
    head = f"{ifname:<5} {direction:<3} "
    if link_header:
        head += f"ifindex {ifindex} {mac(addr[:min(halen, 8)])} {_ethertype_header(ethertype)}, length {length}: "
    text = _payload(ethertype, data[20:], length - 20, numeric, link_header)
    return head + (text if text is not None else _ethertype_header(ethertype))


def _null(order: str):
    def decode(data: bytes, length: int, numeric: bool, link_header: bool) -> str:
        try:
            (family,) = unpack("4s", data)
        except Truncated:
            return "[|null]"
        number = int.from_bytes(family, "little" if order == "host" else "big")
        if order == "host" and number > 0xFFFF:  # written on a host of the other byte order
            number = int.from_bytes(family, "big")
        name = _NULL_FAMILIES.get(number, "Unknown")
        head = f"AF {name} ({number}), length {length}: " if link_header else ""
        ethertype = _NULL_FAMILY_ETHERTYPE.get(name)
        text = _payload(ethertype, data[4:], length - 4, numeric, link_header) if ethertype else None
        return head + (text if text is not None else f"AF {name} ({number}), length {length}")
    return decode


def _raw(version: int | None):
    def decode(data: bytes, length: int, numeric: bool, link_header: bool) -> str:
        head = "ip: " if link_header else ""
        found = version or (data[0] >> 4 if data else 0)
        if found == 4:
            return head + inet.ipv4(data, length, not link_header, numeric)
        if found == 6:
            return head + inet.ipv6(data, length, not link_header, numeric)
        return head + (f"IP bad-version {found}" if data else "[|ip]")
    return decode


_LINKS: dict[int, Callable[[bytes, int, bool, bool], str]] = {LinkType.EN10MB: _ethernet, LinkType.LINUX_SLL: _sll, LinkType.LINUX_SLL2: _sll2,
          LinkType.NULL: _null("host"), LinkType.LOOP: _null("network"), LinkType.RAW: _raw(None),
          LinkType.IPV4: _raw(4), LinkType.IPV6: _raw(6)}


def link_header_length(packet_bytes: bytes, linktype: int) -> int:
    """Bytes of link-layer header before the network layer (VLAN tags included), the
    part ``tcpdump -x`` leaves out of its dump; 0 for link types not decoded here."""
    if linktype == LinkType.EN10MB:
        offset = 14
        while offset + 4 <= len(packet_bytes) and \
                int.from_bytes(packet_bytes[offset - 2:offset], "big") in _VLAN_TAGS:
            offset += 4
        if int.from_bytes(packet_bytes[offset - 2:offset], "big") <= 1500 and offset + 3 <= len(packet_bytes):
            # 802.3: the LLC header (3 bytes for U frames, 4 otherwise) and a SNAP header
            dsap = packet_bytes[offset]
            offset += 3 if packet_bytes[offset + 2] & 3 == 3 else 4
            if dsap == 0xAA:
                offset += 5
        return min(offset, len(packet_bytes))
    fixed: dict[int, int] = {LinkType.LINUX_SLL: 16, LinkType.LINUX_SLL2: 20, LinkType.NULL: 4, LinkType.LOOP: 4}
    return min(fixed.get(linktype, 0), len(packet_bytes))


def hexdump(packet_bytes: bytes, linktype: int | None = None) -> str:
    """The bytes as ``tcpdump -x`` prints them (``\\t0x0010:  4500 0054 ...``, 16 bytes a
    line). With ``linktype``, the dump starts after the link-layer header as ``-x`` does;
    without, it covers the whole frame as ``-xx`` does."""
    start = link_header_length(packet_bytes, linktype) if linktype is not None else 0
    data = packet_bytes[start:]
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16].hex()
        words = " ".join(chunk[i:i + 4] for i in range(0, len(chunk), 4))
        lines.append(f"\t0x{offset:04x}:  {words}")
    return "\n".join(lines)


#: what tcpdump prints in place of a timestamp it cannot convert
TIME_ERROR = "[Error converting time]"


def format_timestamp(timestamp_ns: int, nanosecond: bool = False, utc: bool = False) -> str:
    """``HH:MM:SS.ffffff`` of the local (or UTC) time, as tcpdump prints by default;
    ``nanosecond`` gives nine fraction digits (tcpdump --nano). A time the C library
    cannot convert (a pcapng ``if_tsresol``/``if_tsoffset`` far out of range) is printed
    as tcpdump prints it, ``[Error converting time]``, and the packet still is."""
    seconds, fraction = divmod(timestamp_ns, 1_000_000_000)
    try:
        clock = time.gmtime(seconds) if utc else time.localtime(seconds)
    except (OverflowError, OSError, ValueError):
        return TIME_ERROR
    digits = f"{fraction:09d}" if nanosecond else f"{fraction // 1000:06d}"
    return f"{clock.tm_hour:02d}:{clock.tm_min:02d}:{clock.tm_sec:02d}.{digits}"
