"""IPv4, IPv6 and their transports (TCP, UDP, ICMP, ICMPv6) summarized in tcpdump's
shape: ``IP 10.0.0.1.80 > 10.0.0.2.5555: Flags [S.], seq 1, ack 2, win 512, length 0``.

Sequence numbers are absolute (as ``tcpdump -S`` prints them): a one-packet summary has no
connection state to make them relative. Lengths come from the headers, so a packet cut by
the snapshot length still reports its real size, and a packet shorter than its IP header
claims says so (``truncated-ip - 3 bytes missing!``), as tcpdump does.
"""

from __future__ import annotations

from pybpf.capture._fields import Truncated, ip4, ip6, port, unpack
from pybpf.capture.dns import summarize_dns

TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58
_TCP_FLAGS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"),
              (0x80, "W"))
_IPV6_EXTENSIONS = {0: "HBH", 60: "DSTOPT", 43: "RT6"}
DNS_PORT = 53


def ipv4(data: bytes, length: int, prefix: bool, numeric: bool) -> str:
    """An IPv4 packet; ``length`` is how many bytes the link layer says it carries."""
    head = "IP " if prefix else ""
    try:
        vhl, _tos, total, _ident, frag, _ttl, proto, _sum, src, dst = unpack("BBHHHBBH4s4s", data)
    except Truncated:
        return head + "[|ip]"
    if vhl >> 4 != 4:
        return head + f"bad-version {vhl >> 4}"
    hlen = (vhl & 0xF) * 4
    if hlen < 20:
        return head + f"bad-hlen {hlen}"
    if total < hlen:
        return head + f"bad-len {total}"
    if total > length:
        head += f"truncated-ip - {total - length} bytes missing! "
    where = (ip4(src), ip4(dst))
    if frag & 0x1FFF:                           # a later fragment: no transport header
        return head + f"{where[0]} > {where[1]}: ip-proto-{proto}"
    return head + _transport(proto, data[hlen:total], total - hlen, where, numeric, icmp_version=4)


def ipv6(data: bytes, length: int, prefix: bool, numeric: bool) -> str:
    """An IPv6 packet, walking hop-by-hop, routing, destination and fragment headers."""
    head = "IP6 " if prefix else ""
    try:
        _vtf, plen, nxt, _hops, src, dst = unpack("IHBB16s16s", data)
    except Truncated:
        return head + "[|ip6]"
    if plen + 40 > length:
        head += f"truncated-ip6 - {plen + 40 - length} bytes missing! "
    where = (ip6(src), ip6(dst))
    payload, remaining, shown = data[40:40 + plen], plen, []
    try:
        while nxt in _IPV6_EXTENSIONS or nxt == 44:
            if nxt == 44:                       # fragment
                following, _res, offlg, _ident = unpack("BBHI", payload)
                shown.append(f"frag ({offlg & 0xFFF8}|{remaining - 8})")
                if offlg & 0xFFF8:
                    return head + f"{where[0]} > {where[1]}: " + " ".join(shown)
                size = 8
            else:
                following, ext_len = unpack("BB", payload)
                size = (ext_len + 1) * 8
                shown.append(_IPV6_EXTENSIONS[nxt])
            if size > remaining:
                raise Truncated
            nxt, payload, remaining = following, payload[size:], remaining - size
    except Truncated:
        return head + f"{where[0]} > {where[1]}: " + " ".join(shown + ["[|ip6]"])
    if not shown:
        return head + _transport(nxt, payload, remaining, where, numeric, icmp_version=6)
    # after extension headers tcpdump names the hosts once, then the headers, then the
    # transport without repeating the addresses ("HBH 12345 > 54321: UDP, length 10")
    return head + f"{where[0]} > {where[1]}: " + " ".join(shown) + " " + \
        _transport(nxt, payload, remaining, None, numeric, icmp_version=6)


def _transport(proto: int, payload: bytes, length: int, where: tuple[str, str] | None, numeric: bool,
               icmp_version: int) -> str:
    """The transport summary; ``where`` is (src, dst) to print, or ``None`` when the
    addresses were printed already."""
    hosts = f"{where[0]} > {where[1]}: " if where else ""
    try:
        if proto == TCP:
            return tcp(payload, length, where, numeric)
        if proto == UDP:
            return udp(payload, length, where, numeric)
        if proto == ICMP and icmp_version == 4:
            return f"{hosts}ICMP {icmp(payload, length)}, length {length}"
        if proto == ICMP6 and icmp_version == 6:
            return f"{hosts}ICMP6, {icmp6(payload, length)}, length {length}"
    except Truncated:
        name = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMP6: "icmp6"}[proto]
        return f"{hosts}[|{name}]"
    return f"{hosts} ip-proto-{proto} {length}"


def _ends(where: tuple[str, str] | None, sport: int, dport: int, proto: str, numeric: bool) -> str:
    """``10.0.0.1.80 > 10.0.0.2.5555: `` (or ``80 > 5555: `` when hosts were shown)."""
    sp, dp = port(sport, proto, numeric), port(dport, proto, numeric)
    return f"{where[0]}.{sp} > {where[1]}.{dp}: " if where else f"{sp} > {dp}: "


def tcp(segment: bytes, length: int, where: tuple[str, str] | None, numeric: bool) -> str:
    sport, dport, seq, ack, offset, flags, win, _sum, urp = unpack("HHIIBBHHH", segment)
    ends = _ends(where, sport, dport, "tcp", numeric)
    hlen = (offset >> 4) * 4
    if hlen < 20:
        return ends + f"tcp [bad hdr length {hlen} - too short, < 20]"
    data_len = length - hlen
    if data_len < 0:
        return ends + f"tcp [bad hdr length {hlen} - too long, > {length}]"
    out = [ends + "Flags [" + ("".join(c for bit, c in _TCP_FLAGS if flags & bit) or "none") + "]"]
    if data_len > 0 or flags & 0x07:
        out.append(f", seq {seq}" + (f":{(seq + data_len) & 0xFFFF_FFFF}" if data_len > 0 else ""))
    if flags & 0x10:
        out.append(f", ack {ack}")
    out.append(f", win {win}")
    if flags & 0x20:
        out.append(f", urg {urp}")
    if hlen > 20:
        out.append(", options [" + tcp_options(segment[20:hlen]) + "]")
    out.append(f", length {data_len}")
    if data_len > 2 and DNS_PORT in (sport, dport):   # DNS over TCP: a 2-byte length first
        out.append(" " + summarize_dns(segment[hlen + 2:], data_len - 2))
    return "".join(out)


def tcp_options(raw: bytes) -> str:
    """``mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`` from the option bytes."""
    shown, pos = [], 0
    while pos < len(raw):
        kind = raw[pos]
        if kind in (0, 1):
            shown.append("eol" if kind == 0 else "nop")
            pos += 1
            if kind == 0:
                break
            continue
        if pos + 1 >= len(raw) or raw[pos + 1] < 2 or pos + raw[pos + 1] > len(raw):
            shown.append(f"opt-{kind} [bad length]")
            break
        size = raw[pos + 1]
        value = raw[pos + 2:pos + size]
        if kind == 2 and size == 4:
            shown.append(f"mss {unpack('H', value)[0]}")
        elif kind == 3 and size == 3:
            shown.append(f"wscale {value[0]}")
        elif kind == 4 and size == 2:
            shown.append("sackOK")
        elif kind == 5 and (size - 2) % 8 == 0:
            blocks = [unpack("II", value, i) for i in range(0, size - 2, 8)]
            shown.append(f"sack {len(blocks)} " + "".join(f"{{{a}:{b}}}" for a, b in blocks))
        elif kind == 8 and size == 10:
            shown.append("TS val {} ecr {}".format(*unpack("II", value)))
        else:
            shown.append(f"unknown-{kind} 0x{value.hex()}")
        pos += size
    return ",".join(shown)


def udp(datagram: bytes, length: int, where: tuple[str, str] | None, numeric: bool) -> str:
    sport, dport, ulen, _sum = unpack("HHHH", datagram)
    ends = _ends(where, sport, dport, "udp", numeric)
    if ulen > length:
        return ends + f"UDP, bad length {ulen} > {length}"
    if ulen < 8:
        return ends + f"UDP, bad length {ulen}"
    if DNS_PORT in (sport, dport):
        return ends + summarize_dns(datagram[8:ulen], ulen - 8)
    return ends + f"UDP, length {ulen - 8}"


_ICMP_NAMES = {0: "echo reply", 4: "source quench", 5: "redirect", 8: "echo request", 9: "router advertisement",
               10: "router solicitation", 12: "parameter problem", 15: "information request",
               16: "information reply", 17: "address mask request", 18: "address mask reply"}
_UNREACHABLE = {0: "net {} unreachable", 1: "host {} unreachable", 5: "{} unreachable - source route failed",
                6: "net {} unreachable - unknown", 7: "host {} unreachable - unknown",
                8: "{} unreachable - source host isolated", 9: "net {} unreachable - admin prohibited",
                10: "host {} unreachable - admin prohibited", 11: "net {} unreachable - tos prohibited",
                12: "host {} unreachable - tos prohibited", 13: "host {} unreachable - admin prohibited filter",
                14: "host {} unreachable - host precedence violation",
                15: "host {} unreachable - precedence cutoff"}


def icmp(message: bytes, length: int) -> str:
    kind, code, _sum = unpack("BBH", message)
    if kind in (0, 8):
        ident, seq = unpack("HH", message, 4)
        return f"{_ICMP_NAMES[kind]}, id {ident}, seq {seq}"
    if kind == 3:
        return _unreachable(code, message)
    if kind == 11:
        return "time exceeded in-transit" if code == 0 else "ip reassembly time exceeded"
    if kind in (13, 14):
        ident, seq = unpack("HH", message, 4)
        return f"time stamp {'query' if kind == 13 else 'reply'} id {ident} seq {seq}"
    return _ICMP_NAMES.get(kind, f"type-#{kind}")


def _unreachable(code: int, message: bytes) -> str:
    """Destination unreachable: names the original packet's destination (and port)."""
    inner = message[8:]
    vhl, proto, dst = unpack("B", inner)[0], unpack("B", inner, 9)[0], ip4(unpack("4s", inner, 16)[0])
    if code == 2:
        return f"{dst} protocol {proto} unreachable"
    if code == 3:
        hlen = (vhl & 0xF) * 4
        name = {TCP: "tcp", UDP: "udp"}.get(proto)
        if name is None:
            return f"{dst} protocol {proto} port unreachable"
        return f"{dst} {name} port {unpack('H', inner, hlen + 2)[0]} unreachable"
    if code == 4:
        return f"{dst} unreachable - need to frag (mtu {unpack('H', message, 6)[0]})"
    return _UNREACHABLE.get(code, "{} unreachable - #" + str(code)).format(dst)


_ICMP6_NAMES = {2: "packet too big", 4: "parameter problem", 130: "multicast listener query",
                131: "multicast listener report", 132: "multicast listener done", 133: "router solicitation",
                134: "router advertisement", 137: "redirect", 143: "multicast listener report v2"}
_UNREACHABLE6 = {0: "no route to {}", 1: "{} unreachable prohibited", 2: "{} beyond scope",
                 3: "{} unreachable address", 5: "{} unreachable source address failed policy",
                 6: "{} unreachable reject route"}


def icmp6(message: bytes, length: int) -> str:
    kind, code, _sum = unpack("BBH", message)
    if kind in (128, 129):
        ident, seq = unpack("HH", message, 4)
        return f"echo {'request' if kind == 128 else 'reply'}, id {ident}, seq {seq}"
    if kind == 1:
        inner = message[8:]
        nxt, dst = unpack("B", inner, 6)[0], ip6(unpack("16s", inner, 24)[0])
        if code == 4:
            name = {TCP: "tcp", UDP: "udp"}.get(nxt)
            where = f"{dst} {name} port {unpack('H', inner, 42)[0]}" if name else dst
            return f"destination unreachable, unreachable port, {where}"
        return "destination unreachable, " + _UNREACHABLE6.get(code, "{} unreachable code #" + str(code)).format(dst)
    if kind == 2:
        return f"packet too big, mtu {unpack('I', message, 4)[0]}"
    if kind == 3:
        return "time exceeded in-transit" if code == 0 else "time exceeded reassembly"
    if kind == 135:
        return f"neighbor solicitation, who has {ip6(unpack('16s', message, 8)[0])}"
    if kind == 136:
        return f"neighbor advertisement, tgt is {ip6(unpack('16s', message, 8)[0])}"
    return _ICMP6_NAMES.get(kind, f"unknown icmp6 type ({kind})")
