"""Compiled programs: the optimizer keeps the semantics (hypothesis over random
expressions), programs are valid kernel filters, long jumps are laid out through
trampolines, and the API's options do what they say."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from probe_packets import probe

from pybpf.cbpf import dump, run, validate
from pybpf.filter import FilterError, compile_filter

PRIMITIVES = [
    "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "sctp", "vlan", "mpls", "pppoes", "stp", "iso", "ipx",
    "host 10.0.0.1", "src host 10.0.0.2", "dst net 224.0.0.0/4", "net 192.168", "ip6 host fe80::1",
    "ip6 dst net ff02::/16", "port 80", "tcp src port 1234", "udp dst port 53", "portrange 50-60",
    "ether host 01:00:5e:00:00:01", "ether src 02:00:00:00:00:02", "broadcast", "multicast", "ip multicast",
    "less 60", "greater 100", "tcp[tcpflags] & tcp-syn != 0", "ip[8] > 32", "icmp[icmptype] == icmp-echo",
    "len - 14 >= 40", "ip proto 17", "ip6 proto 58", "proto 6", "vlan 10", "mpls 100", "llc", "llc u",
    "ether proto 0x88cc", "ip[2:2] & 0xff00 == 0x0000", "udp[8:2] == 0x1234",
]


def expressions():
    leaf = st.sampled_from(PRIMITIVES)
    return st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        inner.map(lambda e: f"not {e}")), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_optimizer_keeps_semantics(expression):
    try:
        plain = compile_filter(expression, optimize=False)
    except FilterError:             # e.g. vlan after pppoes: refused either way
        assume(False)
    try:
        optimized = compile_filter(expression)
    except FilterError as error:
        assert "rejects all packets" in str(error)
        assert all(run(plain, p) == 0 for p in probe([plain], "EN10MB", expression))
        return
    assert len(optimized) <= len(plain)
    validate(optimized)
    validate(plain)
    # like libpcap's, the optimizer drops loads whose values cannot change the outcome,
    # so only packets long enough for every load of the plain program must agree
    reach = _reach(plain)
    for packet in probe([plain, optimized], "EN10MB", expression, count=150):
        if len(packet) >= reach:
            assert run(optimized, packet) == run(plain, packet), (expression, packet.hex())


def _reach(program) -> int:
    """Bytes a packet needs so that no load of ``program`` runs off its end (indirect
    loads index from an IPv4 header of at most 60 bytes)."""
    reach = 0
    for ins in program:
        if ins.code & 0x07 == 0x00 and ins.code & 0xE0 in (0x20, 0x40):
            size = {0x00: 4, 0x08: 2, 0x10: 1}[ins.code & 0x18]
            reach = max(reach, ins.k + size + (60 if ins.code & 0xE0 == 0x40 else 0))
    return reach


def test_long_jumps_go_through_trampolines():
    hosts = " or ".join(f"host 10.0.{i // 250}.{i % 250}" for i in range(120))
    program = compile_filter(hosts, optimize=False)
    assert len(program) > 300
    validate(program)              # every conditional offset fits in 8 bits
    assert any(ins.code == 0x05 for ins in program)    # ja
    for packet in probe([program], "EN10MB", "long"):
        assert run(program, packet) in (0, 262144)
    frame = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(11) + bytes([10, 0, 0, 119]) + bytes([1, 1, 1, 1])
    assert run(program, frame) == 262144


def test_snaplen_is_the_accept_value_and_len_counts_instructions():
    program = compile_filter("ip", snaplen=96)
    assert len(program) == 4 and program[2].k == 96
    assert dump(program).splitlines()[0] == "(000) ldh      [12]"
    assert compile_filter("") == compile_filter("", optimize=False) and len(compile_filter("")) == 1


def test_link_types_by_name_and_number():
    assert compile_filter("ip", linktype=1) == compile_filter("ip", linktype="EN10MB") == compile_filter("ip", linktype="DLT_EN10MB")
    raw = compile_filter("ip", linktype="RAW")
    assert run(raw, bytes([0x45]) + bytes(19)) and not run(raw, bytes([0x60]) + bytes(39))
    assert compile_filter("ip", linktype="IPV4") == compile_filter("", linktype="IPV4")


def test_expressions_that_reject_everything_are_refused_when_optimizing():
    with pytest.raises(FilterError, match="rejects all packets"):
        compile_filter("ip and ip6")
    assert len(compile_filter("ip and ip6", optimize=False)) > 1


def test_ip_broadcast_needs_a_netmask():
    with pytest.raises(FilterError, match="netmask not known"):
        compile_filter("ip broadcast", netmask=0xFFFF_FFFF)
    program = compile_filter("ip broadcast", netmask=0xFFFF_FF00)
    frame = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(15) + bytes([192, 168, 1, 255])
    assert run(program, frame) and not run(program, frame[:-1] + b"\x07")


def test_linux_extensions_read_the_vlan_tag_from_metadata_or_frame():
    program = compile_filter("vlan 10 and ip", linux_extensions=True)
    untagged_ip = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19)
    tagged_ip = bytes(12) + b"\x81\x00\x00\x0a\x08\x00" + bytes([0x45]) + bytes(19)
    assert run(program, untagged_ip, vlan_avail=1, vlan_tci=10)      # the kernel took the tag out
    assert not run(program, untagged_ip, vlan_avail=1, vlan_tci=11)
    assert run(program, tagged_ip) and not run(program, untagged_ip)
    assert compile_filter("vlan 10 and ip") != program                      # capture files: frame bytes only


def test_enc_carries_the_address_family_in_either_byte_order():
    program = compile_filter("ip", linktype="ENC")
    header = b"\0\0\x10\x01\0\0\0\x03"
    assert run(program, b"\x02\0\0\0" + header + bytes([0x45]) + bytes(19))
    assert run(program, b"\0\0\0\x02" + header + bytes([0x45]) + bytes(19))
    assert not run(program, b"\x18\0\0\0" + header + bytes(20))
