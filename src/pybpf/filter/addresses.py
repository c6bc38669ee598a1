"""Qualified values: ``[proto] [dir] [type] value`` primitives — hosts and networks
(IPv4, IPv6, MAC, DECnet, names through the resolver), ports and port ranges (numbers and
service names), ``proto``/``protochain`` — with the checks that a qualifier fits its value.

A mixin of :class:`~pybpf.filter.codegen.Generator`: it uses the generator's loads and
link-layer tests and keeps no state of its own.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.filter import atm, ir, resolver, stations, wlan
from pybpf.filter.errors import FilterError
from pybpf.filter.lexer import Token
from pybpf.filter.names import ETHER_TYPES, LLC_SAPS
from pybpf.filter.netdb import IP_PROTOCOLS, SERVICES
from pybpf.filter.protochain import protochain
from pybpf.filter.protocols import (
    ARP,
    ETHERMTU,
    IP,
    IP6,
    IP_KEYWORDS,
    ISO_KEYWORDS,
    RARP,
)
from pybpf.filter.syntax import Primitive, Qualifiers


class Addresses:
    """Code generation for qualified values (mixed into the Generator)."""

    # ---- qualified values ---------------------------------------------------------------
    def primitive(self, node: Primitive) -> ir.Fragment:
        q = node.qualifiers
        kind = q.type_name or "host"
        value = node.value
        proto = self.proto_name(q)
        if q.dir is not None and q.dir_text in ("addr1", "addr2", "addr3", "addr4", "ra", "ta"):
            if kind in ("port", "portrange", "proto", "protochain", "gateway", "net"):
                raise self.error(f"'{q.dir_text}' is not a valid qualifier for '{kind}'", q.dir)
            is_mac = value.kind == "EID" or (value.kind == "ID" and proto == "link")
            if self.style not in ("wlan", "radiotap") or not is_mac or proto not in (None, "link"):
                raise self.error(f"'{q.dir_text}' is valid for 802.11 syntax only (with an 802.11 address)", q.dir)
        if value.kind == "AID":
            return stations.host(self, node)
        if kind in ("port", "portrange"):
            return self.ports(node, kind, proto)
        if kind in ("proto", "protochain"):
            return self.proto_value(node, kind, proto)
        if kind == "gateway":
            return self.gateway(node, proto)
        if value.kind == "EID" or (proto == "link" and kind == "host"):
            return self.ether_host(node)
        if value.kind == "HID6":
            return self.host6(node, proto, q)
        if proto == "decnet":
            if value.kind == "ID":
                raise self.error(f"'decnet' is not a valid qualifier for '{kind}' (DECnet host names are not "
                                 "looked up: use AREA.NODE)", q.proto)
            return self.decnet_host(node)
        if value.kind in ("HID", "NUM"):
            address, mask = self.ipv4_address(node, kind)
            return self.host4(address, mask, proto, q)
        return self.host_name(node, proto, q, kind)

    def proto_name(self, q: Qualifiers) -> str | None:
        name = q.proto_name
        if name in ("ether", "ppp", "slip", "fddi", "tr", "wlan"):
            return "link"
        return name

    def direction(self, q: Qualifiers) -> str:
        return q.dir_text or "src or dst"

    def address_test(self, q: Qualifiers, make) -> ir.Fragment:
        """``make(which)`` builds the test for the source or destination; the qualifier
        decides which are built and how they combine."""
        direction = self.direction(q)
        if direction == "src":
            return make("src")
        if direction == "dst":
            return make("dst")
        if direction == "src and dst":
            return ir.both(make("src"), make("dst"))
        return ir.either(make("src"), make("dst"))

    def host4(self, address: int, mask: int, proto: str | None, q: Qualifiers) -> ir.Fragment:
        offsets = {"ip": (IP, 12, 16), "arp": (ARP, 14, 24), "rarp": (RARP, 14, 24)}
        if proto is None:
            # inside an MPLS label stack only IPv4 is looked for (libpcap's gen_host)
            protocols = ("ip",) if self.mpls_depth else ("ip", "arp", "rarp")
            return self.any_of([self.host4(address, mask, p, q) for p in protocols])
        if proto not in offsets:
            raise self.error(f"'{q.proto_name}' modifier applied to {q.type_name or 'host'}", q.proto)
        ethertype = offsets[proto][0]
        if proto in ("arp", "rarp") and self.style in ("raw", "ipv4", "ipv6"):
            return ir.always(False)
        return ir.both(self.linktype(ethertype), self.host4_address(address, mask, proto, q))

    def host4_address(self, address: int, mask: int, proto: str, q: Qualifiers) -> ir.Fragment:
        """The IPv4 source/destination of the ``proto`` (ip, arp, rarp) header is in
        ``address``/``mask`` — without testing that the packet carries ``proto``."""
        src, dst = {"ip": (12, 16), "arp": (14, 24), "rarp": (14, 24)}[proto]
        return self.address_test(q, lambda which: self.cmp(self.nl(src if which == "src" else dst), c.W,
                                                           address & mask, mask=mask))

    def host6(self, node: Primitive, proto: str | None, q: Qualifiers) -> ir.Fragment:
        kind = q.type_name or "host"
        text = node.value.text
        if proto not in (None, "ip6"):
            raise self.error(f"'{q.proto_name}' modifier applied to IPv6 {kind}", q.proto)
        prefix = 128
        if node.prefix is not None:
            prefix = node.prefix.value
            if prefix > 128:
                raise self.error("mask length must be <= 128", node.prefix)
            if kind == "host" and prefix != 128:
                raise self.error(f"'host' is not a valid qualifier for '{text}/{prefix}'", q.type)
        import ipaddress  # (for IPv6 addresses only: ~1.5 ms of a start-up)

        address = int(ipaddress.IPv6Address(text))
        mask = ((1 << 128) - 1) ^ ((1 << (128 - prefix)) - 1)
        if address & ~mask & ((1 << 128) - 1):
            raise self.error(f"non-network bits set in \"{text}/{prefix}\"", node.value)
        return self.host6_test(address, mask, q)

    def host6_test(self, address: int, mask: int, q: Qualifiers) -> ir.Fragment:
        def make(which: str) -> ir.Fragment:
            base = self.nl(8 if which == "src" else 24)
            words = []
            for i in range(4):
                shift = 96 - 32 * i
                m = (mask >> shift) & 0xFFFF_FFFF
                if m:
                    words.append(self.cmp(base + 4 * i, c.W, (address >> shift) & m, mask=m))
            return self.all_of(words) if words else ir.always(True)
        return ir.both(self.linktype(IP6), self.address_test(q, make))

    def ipv4_address(self, node: Primitive, kind: str) -> tuple[int, int]:
        """(address, mask) for a numeric IPv4 host or network, with pcap's short forms:
        ``net 10`` is 10.0.0.0/8, ``net 192.168`` is 192.168.0.0/16."""
        token = node.value
        if token.kind == "NUM":
            value, bits = token.value, 32
            if kind == "net":
                mask = 0xFFFF_FFFF
                while value and not value & 0xFF00_0000:
                    value = (value << 8) & 0xFFFF_FFFF
                    mask = (mask << 8) & 0xFFFF_FFFF
                return value, self.net_mask(node, value, mask)
            return value, 0xFFFF_FFFF
        parts = token.text.split(".")
        if any(int(p) > 255 for p in parts):
            raise self.error(f"invalid IPv4 address '{token.text}'", token)
        value = 0
        for p in parts:
            value = value << 8 | int(p)
        bits = 8 * len(parts)
        value = (value << (32 - bits)) & 0xFFFF_FFFF
        if kind == "net":
            mask = (0xFFFF_FFFF << (32 - bits)) & 0xFFFF_FFFF
            return value, self.net_mask(node, value, mask)
        if node.prefix is not None or node.mask is not None:
            shown = f"{token.text}/{node.prefix.text}" if node.prefix else f"{token.text} mask {node.mask.text}"
            raise self.error(f"'{kind}' is not a valid qualifier for '{shown}'", node.value)
        if bits != 32:
            raise self.error(f"invalid IPv4 address '{token.text}' for a host (a network needs 'net')", token)
        return value, 0xFFFF_FFFF

    def net_mask(self, node: Primitive, value: int, mask: int) -> int:
        if node.prefix is not None:
            length = node.prefix.value
            if length > 32:
                raise self.error("mask length must be <= 32", node.prefix)
            mask = (0xFFFF_FFFF << (32 - length)) & 0xFFFF_FFFF if length else 0
        elif node.mask is not None:
            parts = node.mask.text.split(".")
            if any(int(p) > 255 for p in parts):
                raise self.error(f"invalid IPv4 netmask '{node.mask.text}'", node.mask)
            mask = 0
            for p in parts:
                mask = mask << 8 | int(p)
            mask = (mask << (32 - 8 * len(parts))) & 0xFFFF_FFFF
        if value & ~mask & 0xFFFF_FFFF:
            shown = node.value.text + (f"/{node.prefix.text}" if node.prefix else
                                       f" mask {node.mask.text}" if node.mask else "")
            raise self.error(f"non-network bits set in \"{shown}\"", node.value)
        return mask

    def host_name(self, node: Primitive, proto: str | None, q: Qualifiers, kind: str) -> ir.Fragment:
        """``host NAME`` through the resolver (each of its addresses, IPv4 and IPv6), ``net
        NAME`` through the networks file."""
        name = node.value.text
        if kind == "net":
            return self.network_name(node, proto, q)
        if proto not in (None, "ip", "arp", "rarp", "ip6"):
            raise self.error(f"'{q.proto_name}' is not a valid qualifier for 'host <Internet hostname>'", q.proto)
        addresses = resolver.host_addresses(name)
        if not addresses:
            raise self.error(f"unknown host '{name}'", node.value)
        parts = []
        for address in addresses:
            if address.version == 4 and proto != "ip6":
                parts.append(self.host4(int(address), 0xFFFF_FFFF, proto, q))
            elif address.version == 6 and proto in (None, "ip6"):
                parts.append(self.host6_test(int(address), (1 << 128) - 1, q))
        if not parts:
            raise self.error(f"unknown host '{name}' for specified address family", node.value)
        return self.any_of(parts)

    def network_name(self, node: Primitive, proto: str | None, q: Qualifiers) -> ir.Fragment:
        """``net NAME``: the network number from the networks file, its mask the bytes
        it has (libpcap's: ``10.20`` is 10.20.0.0/16; ``10.20.0.0`` a /32)."""
        name = node.value.text
        if proto not in (None, "ip", "arp", "rarp"):
            what = "'net'" if proto == "decnet" else "'net <IPv4 network name>'"
            raise self.error(f"'{q.proto_name}' is not a valid qualifier for {what}", q.proto)
        number = resolver.network_number(name)
        if number is None:
            raise self.error(f"unknown network '{name}'", node.value)
        address, mask = number, 0xFFFF_FFFF
        while address and not address & 0xFF00_0000:
            address, mask = (address << 8) & 0xFFFF_FFFF, (mask << 8) & 0xFFFF_FFFF
        return self.host4(address, mask, proto, q)

    def gateway(self, node: Primitive, proto: str | None) -> ir.Fragment:
        """``gateway NAME``: packets whose link-layer source or destination is NAME's
        Ethernet address (the ethers file) while neither IPv4 address (of IP, ARP or
        RARP, or the one ``proto`` names) is any of NAME's IPv4 addresses — packets NAME
        forwards. libpcap's gen_gateway."""
        q = node.qualifiers
        token = node.value
        if proto not in (None, "ip", "arp", "rarp"):
            raise self.error(f"'{q.proto_name}' is not a valid qualifier for 'gateway'", q.proto)
        if not self.has_macs():
            raise self.error(f"'gateway' not supported on DLT_{self.link.name}", q.type)
        if token.kind == "EID":
            raise self.error("Ethernet address used in non-ether expression", token)
        if token.kind != "ID":
            raise self.error(f"'gateway' is not a valid qualifier for '{_shown(node)}' (it takes a host name "
                             "with an Ethernet and an IPv4 address)", token)
        mac = self.ether_name(token)
        ipv4 = [a for a in resolver.host_addresses(token.text) if a.version == 4]
        if not ipv4:
            raise self.error(f"unknown host '{token.text}'", token)
        # as libpcap's expected programs have it: a packet of IP, ARP or RARP (or the one
        # ``proto`` names) whose addresses of that protocol are none of NAME's
        either = Qualifiers(q.proto)
        forwarded = []
        for p in ("ip", "arp", "rarp"):
            if proto in (None, p):
                ethertype = {"ip": IP, "arp": ARP, "rarp": RARP}[p]
                own = self.any_of([self.host4_address(int(a), 0xFFFF_FFFF, p, either) for a in ipv4])
                forwarded.append(ir.both(self.linktype(ethertype), ir.negate(own)))
        return ir.both(self.mac_test(mac, "src or dst"), self.any_of(forwarded))

    def has_macs(self) -> bool:
        """Whether the link layer has 6-byte MAC addresses pybpf can test."""
        return self.style in ("wlan", "radiotap") or (self.macs is not None and self.link.address_size == 6)

    def ether_name(self, token: Token) -> bytes:
        mac = resolver.ether_address(token.text)
        if mac is None:
            raise self.error(f"unknown Ethernet-like host '{token.text}'", token)
        return mac

    def ether_host(self, node: Primitive) -> ir.Fragment:
        """A link-layer address: a MAC address, or a host name from the ethers file."""
        q = node.qualifiers
        token = node.value
        if self.proto_name(q) not in (None, "link"):
            raise self.error("Ethernet address used in non-ether expression", token)
        if (q.type_name or "host") != "host":
            raise self.error(f"'{q.type_name}' is not a valid qualifier for an Ethernet address", q.type)
        if token.kind == "EID":
            mac = _mac(token.text)
            if not self.has_macs():
                raise self.error(f"Ethernet addresses are not supported on link type {self.link.name}", token)
        elif token.kind == "ID":
            if not self.has_macs():
                raise self.error(f"'link host NAME' not supported on DLT_{self.link.name}", token)
            mac = self.ether_name(token)
        else:
            raise self.error(f"illegal link-layer address '{_shown(node)}' (a MAC address or a host name "
                             "from the ethers file)", token)
        return self.mac_test(mac, self.direction(q))

    def mac_test(self, mac: bytes, direction: str) -> ir.Fragment:
        """The link-layer source/destination (as ``direction`` says) is ``mac``."""
        if self.style in ("wlan", "radiotap"):
            if direction in ("src or dst", "src and dst"):
                combine = ir.either if direction == "src or dst" else ir.both
                return combine(wlan.address(self, "src", mac), wlan.address(self, "dst", mac))
            return wlan.address(self, direction, mac)

        def make(which: str) -> ir.Fragment:
            return self.bytes_equal(self.macs[which == "src"], mac)
        test = self.address_test(Qualifiers(dir_text=direction), make)
        return ir.both(atm.not_le_control(self), test) if self.style == "lane" else test

    # ---- ports ------------------------------------------------------------------------
    def ports(self, node: Primitive, kind: str, proto: str | None) -> ir.Fragment:
        q = node.qualifiers
        token = node.value
        if token.kind in ("HID", "HID6", "EID"):
            raise self.error(f"'{kind}' qualifier applied to {_address_kind(node)}", q.type)
        if proto not in (None, "tcp", "udp", "sctp"):
            raise self.error(f"'{q.proto_name}' is not a valid qualifier for '{kind}'", q.proto)
        transports = [p for p in ("tcp", "udp", "sctp") if proto in (None, p)]
        if kind == "port":
            low, found = self.port_number(token, token.text if token.kind == "ID" else None, transports)
            high = low
        else:
            low, high, found = self.port_range(token, transports)
        transports = [t for t in transports if t in found] if found else transports
        parts = []
        for version in ("ip6", "ip"):
            parts.append(self.port_test(version, [IP_KEYWORDS[t][0] for t in transports], low, high, q))
        return self.any_of(parts)

    def port_number(self, token: Token, name: str | None, transports: list[str]) -> tuple[int, set[str]]:
        if name is None:
            if token.value > 65535:
                raise self.error(f"port {token.value} is out of range (0-65535)", token)
            return token.value, set()
        if name.isdigit():
            number = int(name)
            if number > 65535:
                raise self.error(f"port {number} is out of range (0-65535)", token)
            return number, set()
        entry = SERVICES.get(name.lower()) if name.lower() == name else SERVICES.get(name)
        if not entry:
            raise self.error(f"unknown port '{name}'", token)
        if entry.get("tcp") is not None and entry.get("tcp") == entry.get("udp"):
            # the same number for TCP and UDP: libpcap's pcap_nametoport leaves the
            # protocol open, so the port serves any transport (`sctp port domain`)
            return entry["tcp"], set()
        usable = {t: p for t, p in entry.items() if t in transports}
        if not usable:
            raise self.error(f"port '{name}' is {'/'.join(entry)} only", token)
        numbers = set(usable.values())
        if len(numbers) > 1:
            raise self.error(f"port '{name}' has different numbers for {'/'.join(usable)}", token)
        return numbers.pop(), set(usable)

    def port_range(self, token: Token, transports: list[str]) -> tuple[int, int, set[str]]:
        if token.kind == "NUM":
            low, found = self.port_number(token, None, transports)
            return low, low, found
        text = token.text
        if "-" in text:
            split = _split_range(text)
            if split is None:
                raise self.error(f"invalid port range '{text}'", token)
            low_name, high_name = split
        else:
            low_name = high_name = text
        low, found_low = self.port_number(token, low_name, transports)
        high, found_high = self.port_number(token, high_name, transports)
        found = (found_low & found_high) if found_low and found_high else (found_low or found_high)
        if low > high:
            low, high = high, low
        return low, high, found

    def port_test(self, version: str, protocols: list[int], low: int, high: int, q: Qualifiers) -> ir.Fragment:
        """``[ip6|ip] and (sctp and ports or tcp and ports or udp and ports)``: one copy
        of the port tests per transport, as libpcap's gen_port builds it. The copies
        matter for truncated packets: in ``port 53 or tcp`` the optimizer sees that on
        the TCP copy both outcomes lead to acceptance and drops its loads, so a TCP
        packet captured without its ports is kept, as libpcap keeps it; identical copies
        are merged again by the optimizer."""
        if version == "ip":
            def carries(p: int) -> ir.Fragment:
                return ir.both(self.cmp(self.nl(9), c.B, p), self.not_fragment())

            def at(offset: int, op: int, value: int) -> ir.Fragment:
                return self.cmp_transport4(offset, c.H, value, op)
        else:
            def carries(p: int) -> ir.Fragment:
                return self.cmp(self.nl(6), c.B, p)

            def at(offset: int, op: int, value: int) -> ir.Fragment:
                return self.cmp(self.nl(40 + offset), c.H, value, op)

        def make(which: str) -> ir.Fragment:
            offset = 0 if which == "src" else 2
            if low == high:
                return at(offset, c.JEQ, low)
            return ir.both(at(offset, c.JGE, low), ir.negate(at(offset, c.JGT, high)))
        order = sorted(protocols, key=lambda p: (p != 132, p))          # libpcap's: sctp, tcp, udp
        copies = self.any_of([ir.both(carries(p), self.address_test(q, make)) for p in order])
        return ir.both(self.linktype(IP if version == "ip" else IP6), copies)

    # ---- proto / protochain -----------------------------------------------------------
    def proto_value(self, node: Primitive, kind: str, proto: str | None) -> ir.Fragment:
        q = node.qualifiers
        token = node.value
        if token.kind in ("HID", "HID6", "EID"):
            raise self.error(f"'{kind}' qualifier applied to {_address_kind(node)}", q.type)
        if kind == "protochain":
            if proto not in (None, "ip", "ip6"):
                raise self.error(f"'protochain' applies to ip and ip6, not '{q.proto_name}'", q.proto)
            number = self.number_or_name(token, IP_PROTOCOLS, "protocol", 0xFF)
            versions = [v for v in ("ip", "ip6") if proto in (None, v)]
            return self.any_of([protochain(self, number, v, q.type) for v in versions])
        if proto == "link":
            number = self.number_or_name(token, {**ETHER_TYPES, **LLC_SAPS}, "protocol", 0xFFFF)
            if 255 < number <= ETHERMTU and self.style in ("ether", "sll", "sll2", "llc", "wlan", "radiotap"):
                raise self.error(f"LLC DSAP {number} greater than maximum 255", token)
            return self.linktype(number)
        if proto in (None, "ip", "ip6"):
            number = self.number_or_name(token, IP_PROTOCOLS, "protocol", 0xFF)
            return self.ip_protocol(number, proto in (None, "ip"), proto in (None, "ip6"))
        if proto == "iso":
            number = self.number_or_name(token, ISO_KEYWORDS, "ISO protocol", 0xFF)
            return self.iso_protocol(number, q.proto)
        if proto == "isis":
            number = self.number_or_name(token, {}, "IS-IS PDU type", 0x1F)
            return ir.both(self.iso_protocol(ISO_KEYWORDS["isis"], q.proto),
                           self.cmp(self.off_linkpl + self.iso_offset + 4, c.B, number, mask=0x1F))
        raise self.error(f"'{q.proto_name} proto' is not supported", q.proto)

    def number_or_name(self, token: Token, names: dict[str, int], what: str, limit: int, bits: bool = False) -> int:
        """A number (at most ``limit``; with ``bits``, only bits of the mask ``limit``)
        or a name from ``names``."""
        if token.kind == "NUM":
            if bits and token.value & ~limit:
                raise self.error(f"invalid {what} {token.text} (bits outside {limit:#x})", token)
            if token.value > limit:
                raise self.error(f"{what} {token.value} is greater than {limit}", token)
            return token.value
        value = names.get(token.text.lower())
        if value is None:
            raise self.error(f"unknown {what} '{token.text}'", token)
        return value

    def decnet_host(self, node: Primitive) -> ir.Fragment:
        """DECnet Phase IV addresses (area.node, little-endian in the packet), in the
        short and long routing headers, each with and without a padding byte."""
        q = node.qualifiers
        token = node.value
        if (q.type_name or "host") != "host":
            raise self.error(f"'{q.type_name}' is not a valid qualifier for a DECnet address", q.type)
        parts = token.text.split(".")
        if token.kind != "HID" or len(parts) != 2 or int(parts[0]) > 63 or int(parts[1]) > 1023:
            raise self.error(f"invalid DECnet address '{token.text}' (AREA.NODE, area <= 63, node <= 1023)", token)
        address = int(parts[0]) << 10 | int(parts[1])
        wire = (address & 0xFF) << 8 | address >> 8        # as ldh reads the little-endian field
        flags = self.nl(2)

        def make(which: str) -> ir.Fragment:
            if which == "dst":
                short = self.cmp(flags, c.W, 0x0200_0000 | wire << 8, mask=0x07FF_FF00)
                padded = self.cmp(flags, c.W, 0x8102_0000 | wire, mask=0xFF07_FFFF)
                long_at = 9
            else:
                short = ir.both(self.cmp(flags, c.B, 0x02, mask=0x07), self.cmp(self.nl(5), c.H, wire))
                padded = ir.both(self.cmp(flags, c.H, 0x8102, mask=0xFF07), self.cmp(self.nl(6), c.H, wire))
                long_at = 17
            long = ir.both(self.cmp(flags, c.B, 0x06, mask=0x07), self.cmp(self.nl(long_at), c.H, wire))
            long_padded = ir.both(self.cmp(flags, c.H, 0x8106, mask=0xFF07), self.cmp(self.nl(long_at + 1), c.H, wire))
            return self.any_of([short, padded, long, long_padded])
        return ir.both(self.linktype(0x6003), self.address_test(q, make))


def _mac(text: str) -> bytes:
    if len(text) == 12 and "." not in text:
        return bytes.fromhex(text)
    for separator in (":", "-", "."):
        parts = text.split(separator)
        if len(parts) == 6:
            return bytes(int(p, 16) for p in parts)
        if len(parts) == 3 and separator == ".":
            return b"".join(int(p, 16).to_bytes(2, "big") for p in parts)
    raise FilterError(f"invalid Ethernet address '{text}'")


def _split_range(text: str) -> tuple[str, str] | None:
    """``25-smtp`` -> (25, smtp); service names may themselves contain '-', so try each
    split point and keep the one whose halves are both numbers or known services."""
    for i, ch in enumerate(text):
        if ch == "-":
            low, high = text[:i], text[i + 1:]
            if low and high and all(h.isdigit() or h in SERVICES for h in (low, high)):
                return low, high
    return None


def _shown(node: Primitive) -> str:
    """The value as written, with its prefix length or netmask."""
    if node.prefix is not None:
        return f"{node.value.text}/{node.prefix.text}"
    if node.mask is not None:
        return f"{node.value.text} mask {node.mask.text}"
    return node.value.text


def _address_kind(node: Primitive) -> str:
    kind = "IPv6 address" if node.value.kind == "HID6" else "IPv4 address" if node.value.kind == "HID" \
        else "Ethernet address"
    if node.prefix is not None:
        return kind + " and prefix length"
    if node.mask is not None:
        return kind + " and netmask"
    return kind
