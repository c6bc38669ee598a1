"""Names in filter expressions: the ethers/hosts/networks parsers, the resolver hooks,
``gateway``, and errors for names nothing knows (conftest.py points the look-ups at
tests/filter/netdb/, libpcap's test entries)."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from pybpf.cbpf import run
from pybpf.filter import FilterError, compile_filter, resolver

ETH = bytes.fromhex("aa000400140e")          # eth-*.host123.libpcap.test in netdb/ethers
OTHER = bytes.fromhex("020000000001")
HOST = "eth-ipv4-ipv6.host123.libpcap.test"  # 10.20.30.40 and fd00:a1b2:c3d4::1020:3040:5060:7080


def ip4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str) -> bytes:
    return bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0]) + ip4(src) + ip4(dst) + bytes(20)


def arp(spa: str, tpa: str) -> bytes:
    return bytes.fromhex("0001080006040001") + OTHER + ip4(spa) + bytes(6) + ip4(tpa)


# ---- ethers(5) ----------------------------------------------------------------------------
def test_ethers_spellings_comments_and_malformed_lines():
    text = """
# a comment line
aa:bb:cc:dd:ee:ff  colons            # a comment after the name
0:1:2:a:b:c        short-octets
AA-BB-CC-00-11-22  Hyphens.Example
aa.bb.cc.00.11.23  dots
aabb.cc00.1124     cisco
aabbcc001125       bare
	aa:bb:cc:00:11:26	tabbed extra fields are ignored
aa:bb:cc:dd:ee     five-octets
aa:bb:cc:dd:ee:ff:00 seven-octets
aa:bb:cc:dd:ee:fg  not-hex
aaa:bb:cc:dd:ee:ff three-digit-octet
aa:bb:cc-dd:ee:ff  mixed-separators
aa:bb:cc:dd:ee:01
colons-only-name
# aa:bb:cc:dd:ee:02 commented-out
aa:bb:cc:dd:ee:03 colons
"""
    table = resolver.parse_ethers(text)
    assert table == {
        "colons": bytes.fromhex("aabbccddeeff"),           # the first line naming a host wins
        "short-octets": bytes([0, 1, 2, 0xA, 0xB, 0xC]),
        "hyphens.example": bytes.fromhex("aabbcc001122"),  # names compare case-insensitively
        "dots": bytes.fromhex("aabbcc001123"),
        "cisco": bytes.fromhex("aabbcc001124"),
        "bare": bytes.fromhex("aabbcc001125"),
        "tabbed": bytes.fromhex("aabbcc001126"),
    }


@pytest.mark.parametrize("text", ["", "aa:bb", "aa:bb:cc:dd:ee:ff:00", "g0:00:00:00:00:00", "aabbccddeef",
                                  "aabb.ccdd", "aa::bb:cc:dd:ee", "aa:bb:cc:dd:ee:"])
def test_invalid_mac_spellings(text):
    assert resolver.parse_mac(text) is None


def test_ethers_file_from_setting_or_environment(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("02:00:00:00:00:01 box\n")
    second.write_text("02:00:00:00:00:02 box\n")
    monkeypatch.setattr(resolver, "ethers_path", None)
    monkeypatch.setenv("PYBPF_ETHERS", str(first))
    assert resolver.ether_address("BOX") == bytes.fromhex("020000000001")
    monkeypatch.setattr(resolver, "ethers_path", second)       # the setting wins over the variable
    assert resolver.ether_address("box") == bytes.fromhex("020000000002")
    second.write_text("# emptied\n02:00:00:00:00:03 other-box\n")  # changed files are read again
    assert resolver.ether_address("box") is None
    monkeypatch.setattr(resolver, "ethers_path", tmp_path / "missing")
    assert resolver.ether_address("box") is None


def test_ether_host_names_compile_as_their_addresses():
    for expr, same in [("ether host eth-noipv4-noipv6.host123.libpcap.test", "ether host aa:00:04:00:14:0e"),
                       ("ether src ETH-NOIPV4-NOIPV6.HOST123.LIBPCAP.TEST", "ether src aa:00:04:00:14:0e"),
                       ("link dst host eth-ipv4-ipv6.host123.libpcap.test", "ether dst aa:00:04:00:14:0e")]:
        assert compile_filter(expr) == compile_filter(same)
    for linktype in ("IEEE802_11", "IEEE802_11_RADIO", "FDDI", "IEEE802", "IP_OVER_FC", "NETANALYZER"):
        assert compile_filter(f"link host {HOST}", linktype) == compile_filter("link host aa:00:04:00:14:0e", linktype)
    assert compile_filter(f"link addr2 {HOST}", "IEEE802_11") == compile_filter("link addr2 aa:00:04:00:14:0e", "IEEE802_11")


# ---- hosts(5) and the resolver hook ---------------------------------------------------------
def test_hosts_parser_and_file_resolver(tmp_path):
    text = """
127.0.0.1 localhost
10.0.0.1  Multi alias-one    # comment
10.0.0.2  multi
fe80::1%eth0 multi
10.0.0.1  multi
not-an-address name
10.0.0.3
"""
    table = resolver.parse_hosts(text)
    assert table["multi"] == [ipaddress.ip_address(a) for a in ("10.0.0.1", "10.0.0.2", "fe80::1")]
    assert table["alias-one"] == [ipaddress.ip_address("10.0.0.1")]
    assert "name" not in table
    path = tmp_path / "hosts"
    path.write_text(text)
    lookup = resolver.HostsFile(path, fallback=lambda name: [ipaddress.ip_address("192.0.2.9")])
    assert lookup("MULTI")[0] == ipaddress.ip_address("10.0.0.1")
    assert lookup("elsewhere") == [ipaddress.ip_address("192.0.2.9")]
    assert resolver.HostsFile(path)("elsewhere") == []


def test_resolver_hook_and_every_address_of_a_name(monkeypatch):
    addresses = {"two.example": [ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2")]}
    monkeypatch.setattr(resolver, "resolver", lambda name: addresses.get(name, []))
    program = compile_filter("ip src host two.example")
    for src, expected in [("192.0.2.1", True), ("192.0.2.2", True), ("192.0.2.3", False)]:
        packet = ether(OTHER, ETH, 0x0800, ipv4(src, "198.51.100.1"))
        assert bool(run(program, packet)) is expected


def test_pybpf_hosts_variable_goes_before_the_system_resolver(tmp_path, monkeypatch):
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.77 from-file.test\n")
    monkeypatch.setattr(resolver, "resolver", resolver._default_resolver)
    monkeypatch.setenv("PYBPF_HOSTS", str(hosts))
    assert compile_filter("host from-file.test") == compile_filter("host 192.0.2.77")


def test_host_names_with_several_addresses_of_each_family():
    program = compile_filter("host eth-ipv4x4-ipv6x2.host357.libpcap.test")
    for address in ("192.168.241.3", "192.168.242.4", "192.168.243.1", "192.168.244.2"):
        assert run(program, ether(OTHER, ETH, 0x0800, ipv4(address, "198.51.100.1")))
        assert run(program, ether(OTHER, ETH, 0x0806, arp("198.51.100.1", address)))
    assert not run(program, ether(OTHER, ETH, 0x0800, ipv4("192.168.241.4", "198.51.100.1")))
    address6 = ipaddress.IPv6Address("fd00:a1b2:c3d4::a0b0:c0d0:e0f0:3456")
    ip6 = bytes.fromhex("6000000000000640") + bytes(16) + address6.packed
    assert run(program, ether(OTHER, ETH, 0x86DD, ip6))


# ---- networks(5) -------------------------------------------------------------------------
@pytest.mark.parametrize("text, number", [("10", 10), ("10.20", 0x0A14), ("10.20.0.0", 0x0A140000),
                                          ("0x0a.024", 0x0A14), ("127.0.0.1", 0x7F000001)])
def test_network_numbers(text, number):
    assert resolver.parse_network_number(text) == number


@pytest.mark.parametrize("text", ["", "10.", "1.2.3.4.5", "256", "10.x", "-1", "09"])
def test_invalid_network_numbers(text):
    assert resolver.parse_network_number(text) is None


def test_network_names(tmp_path, monkeypatch):
    networks = tmp_path / "networks"
    networks.write_text("# name number aliases\nshort 10.20 short-alias\nfull 10.20.0.0\nbad 10.x\nshort 11\n")
    monkeypatch.setattr(resolver, "networks_path", None)
    monkeypatch.setenv("PYBPF_NETWORKS", str(networks))
    assert resolver.parse_networks(networks.read_text()) == {"short": 0x0A14, "short-alias": 0x0A14,
                                                             "full": 0x0A140000}
    # as libpcap: the bytes given are the network, the rest of the address the host
    assert compile_filter("net SHORT-ALIAS") == compile_filter("net 10.20.0.0/16")
    assert compile_filter("src net full") == compile_filter("src net 10.20.0.0/32")


def test_network_names_from_libpcaps_entries():
    assert compile_filter("ip dst net net-10-20-30-0.libpcap.test", "RAW") == compile_filter("ip dst host 10.20.30.0", "RAW")


# ---- gateway -----------------------------------------------------------------------------
@pytest.mark.parametrize("linktype", ["EN10MB", "DSA_TAG_BRCM"])
def test_gateway_matches_packets_the_host_forwards(linktype):
    program = compile_filter(f"gateway {HOST}", linktype)
    pad = bytes(4) if linktype == "DSA_TAG_BRCM" else b""

    def frame(dst, src, ethertype, payload):
        return dst + src + pad + struct.pack("!H", ethertype) + payload

    cases = [
        (frame(OTHER, ETH, 0x0800, ipv4("192.0.2.1", "198.51.100.1")), True),    # forwarded by it
        (frame(ETH, OTHER, 0x0800, ipv4("192.0.2.1", "198.51.100.1")), True),    # sent to it to forward
        (frame(OTHER, ETH, 0x0800, ipv4("10.20.30.40", "198.51.100.1")), False),  # its own traffic
        (frame(ETH, OTHER, 0x0800, ipv4("192.0.2.1", "10.20.30.40")), False),
        (frame(OTHER, OTHER, 0x0800, ipv4("192.0.2.1", "198.51.100.1")), False),  # not through it
        (frame(OTHER, ETH, 0x0806, arp("192.0.2.1", "198.51.100.1")), True),
        (frame(OTHER, ETH, 0x0806, arp("10.20.30.40", "198.51.100.1")), False),
        (frame(OTHER, ETH, 0x86DD, bytes(40)), False),                            # neither IP, ARP nor RARP
    ]
    for packet, expected in cases:
        assert bool(run(program, packet)) is expected, packet.hex()
    ip_only = compile_filter(f"ip gateway {HOST}", linktype)
    assert not run(ip_only, frame(OTHER, ETH, 0x0806, arp("192.0.2.1", "198.51.100.1")))
    assert run(ip_only, frame(OTHER, ETH, 0x0800, ipv4("192.0.2.1", "198.51.100.1")))


def test_gateway_on_other_link_layers():
    for linktype in ("FDDI", "IEEE802", "IEEE802_11", "IEEE802_11_RADIO", "PPI", "IP_OVER_FC"):
        assert compile_filter(f"gateway {HOST}", linktype)


@pytest.mark.parametrize("expr, linktype, reason", [
    (f"gateway {HOST}", "RAW", "'gateway' not supported on DLT_RAW"),
    (f"gateway {HOST}", "LINUX_SLL", "'gateway' not supported on DLT_LINUX_SLL"),
    ("gateway noeth-ipv4-noipv6.host123.libpcap.test", "EN10MB",
     "unknown Ethernet-like host 'noeth-ipv4-noipv6.host123.libpcap.test'"),
    ("gateway eth-noipv4-ipv6.host123.libpcap.test", "EN10MB",
     "unknown host 'eth-noipv4-ipv6.host123.libpcap.test'"),
    (f"tcp gateway {HOST}", "EN10MB", "'tcp' is not a valid qualifier for 'gateway'"),
    ("gateway 1.2.3.4", "EN10MB", "'gateway' is not a valid qualifier for '1.2.3.4'"),
    ("gateway aa:bb:cc:dd:ee:ff", "EN10MB", "Ethernet address used in non-ether expression"),
])
def test_gateway_errors(expr, linktype, reason):
    with pytest.raises(FilterError) as caught:
        compile_filter(expr, linktype)
    assert caught.value.reason.startswith(reason)


# ---- unknown names -------------------------------------------------------------------------
@pytest.mark.parametrize("expr, name, reason", [
    ("tcp and host nosuch.invalid", "nosuch.invalid", "unknown host 'nosuch.invalid'"),
    ("ip6 host noeth-ipv4-noipv6.host123.libpcap.test or tcp", "noeth-ipv4-noipv6.host123.libpcap.test",
     "unknown host 'noeth-ipv4-noipv6.host123.libpcap.test' for specified address family"),
    ("udp or ether src nosuch.invalid", "nosuch.invalid", "unknown Ethernet-like host 'nosuch.invalid'"),
    ("link host noeth-ipv4-ipv6.host123.libpcap.test", "noeth-ipv4-ipv6.host123.libpcap.test",
     "unknown Ethernet-like host 'noeth-ipv4-ipv6.host123.libpcap.test'"),
    ("not net nosuch-network", "nosuch-network", "unknown network 'nosuch-network'"),
    ("gateway host.invalid.", "host.invalid.", "unknown Ethernet-like host 'host.invalid.'"),
])
def test_an_unknown_name_fails_with_a_caret_under_it(expr, name, reason):
    with pytest.raises(FilterError) as caught:
        compile_filter(expr)
    error = caught.value
    assert error.reason == reason
    assert error.position == expr.index(name) and error.length == len(name)
    line, caret, where = str(error).splitlines()
    assert line == expr
    assert caret == " " * expr.index(name) + "^" * len(name)
    assert where == f"column {expr.index(name) + 1}: {reason}"


def test_link_host_names_need_a_link_layer_with_mac_addresses():
    with pytest.raises(FilterError, match=r"'link host NAME' not supported on DLT_RAW"):
        compile_filter(f"link host {HOST}", "RAW")
    with pytest.raises(FilterError, match="'addr1' is valid for 802.11 syntax only"):
        compile_filter(f"link addr1 {HOST}", "EN10MB")
    with pytest.raises(FilterError, match="'addr1' is valid for 802.11 syntax only"):
        compile_filter(f"addr1 {HOST}", "IEEE802_11")     # without 'link' a name is an Internet host name
