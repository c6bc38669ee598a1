"""BCC's packet-cursor dialect (pybpf.bcc.packet_headers): proto.h's headers and the
program's own BPF_PACKET_HEADER structs, member reads and writes rewritten into packet
loads and stores. The text is checked without a kernel; the loads and stores run in the
kernel (BPF_PROG_TEST_RUN, root) on packets built here with the fields' known values."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.bcc.packet_headers import PROTO_HEADERS, Member, layout, packet_structs
from pybpf.bcc.tokens import BccSyntaxError
from pybpf.bcc.translate import translate
from shared_data import shared_path

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="runs programs in the kernel: root only")


def test_layout_follows_the_wire():
    ip = layout("ip_t", PROTO_HEADERS["ip_t"])
    assert ip["ver"] == Member(0, 0, 4) and ip["hlen"] == Member(0, 4, 4)
    assert ip["df"] == Member(6, 1, 1) and ip["foffset"] == Member(6, 3, 13)
    assert ip["nextp"] == Member(9, 0, 8) and ip["dst"] == Member(16, 0, 32)
    tcp = layout("tcp_t", PROTO_HEADERS["tcp_t"])
    assert tcp["offset"] == Member(12, 0, 4) and tcp["flag_syn"] == Member(13, 6, 1)
    assert tcp["urg_ptr"] == Member(18, 0, 16)
    eth = layout("ethernet_t", PROTO_HEADERS["ethernet_t"])
    assert eth == {"dst": Member(0, 0, 48), "src": Member(6, 0, 48), "type": Member(12, 0, 16)}
    assert layout("ip6_opt_t", PROTO_HEADERS["ip6_opt_t"])["pad"] == Member(2, 0, 48)


def test_reads_and_writes_become_packet_loads_and_stores():
    t = translate("int f(struct __sk_buff *skb) {\n    u8 *cursor = 0;\n"
                  "    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));\n"
                  "    if (ip->ver != 4) return 0;\n    ip->ttl = ip->ttl - 1;\n    ip->tos |= 2;\n"
                  "    return ip->hlen << 2;\n}")
    assert "struct ip_t { unsigned char ver:4;" in t.source
    assert "if (bpf_dext_pkt(skb, (u64)ip + 0, 0, 4) != 4)" in t.source
    assert "bpf_dins_pkt(skb, (u64)ip + 8, 0, 8, bpf_dext_pkt(skb, (u64)ip + 8, 0, 8) - 1);" in t.source
    assert "bpf_dins_pkt(skb, (u64)ip + 1, 0, 8, bpf_dext_pkt(skb, (u64)ip + 1, 0, 8) | (2));" in t.source
    assert "return bpf_dext_pkt(skb, (u64)ip + 0, 4, 4) << 2;" in t.source
    assert "sizeof(*ip)" in t.source


def test_the_programs_own_packet_headers():
    text = ("struct vlan_t { unsigned short pcp:3; unsigned short dei:1; unsigned short vid:12; } BPF_PACKET_HEADER;\n"
            "struct ip_t { int not_a_packet; };\n"
            "int f(struct __sk_buff *ctx) { u8 *cursor = 0;\n"
            "    struct vlan_t *v = cursor_advance(cursor, sizeof(*v)); return v->vid; }\n")
    assert set(packet_structs(text)) == {"vlan_t"}      # its own ip_t is no packet header
    t = translate(text)
    assert "return bpf_dext_pkt(ctx, (u64)v + 0, 4, 12);" in t.source
    assert "unsigned char ver:4" not in t.source


@pytest.mark.parametrize("body, message", [
    ("return ip->nope;", r"3:12: packet header ip has no member 'nope'"),
    ("u8 *p = &ip->ttl; return 0;", r"3:14: ip->ttl: a packet header member can only be read or assigned"),
    ("ip->ttl++; return 0;", r"3:5: ip->ttl: a packet header member can only be read or assigned"),
])
def test_errors_name_the_place(body, message):
    with pytest.raises(BccSyntaxError, match=message):
        translate("int f(struct __sk_buff *skb) {\n    u8 *cursor = 0; struct ip_t *ip = cursor_advance(cursor, 20);\n"
                  f"    {body}\n}}")


# --- in the kernel ---------------------------------------------------------------------

def _ipv4_tcp(ttl=64, flags=0x12, src="10.1.2.3", dst="192.168.7.9", sport=4321, dport=80, frag=0x4000 | 5) -> bytes:
    eth = bytes.fromhex("0a0b0c0d0e0f" "010203040506") + struct.pack("!H", 0x0800)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 40, 0x1234, frag, ttl, 6, 0xbeef,
                     bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, 5 << 4, flags, 512, 0xcafe, 7)
    return eth + ip + tcp


_MEMBERS = [(s, m) for s in ("ethernet_t", "ip_t", "tcp_t") for m in layout(s, PROTO_HEADERS[s])]
_BASES = {"ethernet_t": 0, "ip_t": 14, "tcp_t": 34}


@pytest.fixture(scope="module")
def reader():
    """A SCHED_CLS program storing every ethernet_t/ip_t/tcp_t member it reads."""
    from pybpf.bcc import BPF

    body = "".join(f"    {{ u32 k = {i}; u64 v = {s[:-2]}->{m}; out.update(&k, &v); }}\n"
                   for i, (s, m) in enumerate(_MEMBERS))
    with BPF(text=f"BPF_ARRAY(out, u64, {len(_MEMBERS)});\n"
                  "int readall(struct __sk_buff *skb) {\n    u8 *cursor = 0;\n"
                  "    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));\n"
                  "    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));\n"
                  "    struct tcp_t *tcp = cursor_advance(cursor, sizeof(*tcp));\n"
                  f"{body}    return 0;\n}}") as b:
        yield b, b.load_func("readall", b.SCHED_CLS)


def _read(reader, packet: bytes) -> dict[str, int]:
    b, fn = reader
    fn.program.test_run(packet)
    return {f"{s[:-2]}.{m}": b["out"][i].value for i, (s, m) in enumerate(_MEMBERS)}


@root_only
def test_members_read_the_known_fields_of_a_packet(reader):
    got = _read(reader, _ipv4_tcp())
    assert got["ethernet.dst"] == 0x0a0b0c0d0e0f and got["ethernet.src"] == 0x010203040506
    assert got["ethernet.type"] == 0x0800
    assert (got["ip.ver"], got["ip.hlen"], got["ip.tos"], got["ip.tlen"]) == (4, 5, 0x10, 40)
    assert (got["ip.df"], got["ip.mf"], got["ip.foffset"], got["ip.ttl"], got["ip.nextp"]) == (1, 0, 5, 64, 6)
    assert (got["ip.src"], got["ip.dst"]) == (0x0a010203, 0xc0a80709)
    assert (got["tcp.src_port"], got["tcp.dst_port"], got["tcp.seq_num"], got["tcp.ack_num"]) == (4321, 80, 1000, 2000)
    assert (got["tcp.offset"], got["tcp.flag_syn"], got["tcp.flag_ack"], got["tcp.flag_fin"]) == (5, 1, 1, 0)
    assert (got["tcp.rcv_wnd"], got["tcp.cksum"], got["tcp.urg_ptr"]) == (512, 0xcafe, 7)


@root_only
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=54, max_size=54))
def test_members_are_the_bits_of_random_packets(reader, packet):
    got = _read(reader, packet)
    bits = int.from_bytes(packet, "big")
    for s, m in _MEMBERS:
        member = layout(s, PROTO_HEADERS[s])[m]
        first = (_BASES[s] + member.byte) * 8 + member.bit          # counted from the packet's first bit
        want = (bits >> (len(packet) * 8 - first - member.bits)) & ((1 << member.bits) - 1)
        assert got[f"{s[:-2]}.{m}"] == want, f"{s}.{m}"


@root_only
def test_member_writes_store_into_the_packet():
    from pybpf.bcc import BPF

    with BPF(text="int rewrite(struct __sk_buff *skb) {\n    u8 *cursor = 0;\n"
                  "    struct ethernet_t *ethernet = cursor_advance(cursor, sizeof(*ethernet));\n"
                  "    struct ip_t *ip = cursor_advance(cursor, sizeof(*ip));\n"
                  "    struct tcp_t *tcp = cursor_advance(cursor, sizeof(*tcp));\n"
                  "    ethernet->src = 0x112233445566;\n    ip->ttl = ip->ttl - 1;\n    ip->hlen = 6;\n"
                  "    ip->df = 0;\n    ip->foffset = 0x1abc;\n    ip->dst = 0x0a000001;\n"
                  "    tcp->flag_fin = 1;\n    tcp->dst_port += 8000;\n    return 0;\n}") as b:
        before = _ipv4_tcp()
        out = b.load_func("rewrite", b.SCHED_CLS).program.test_run(before).data_out
    expected = bytearray(_ipv4_tcp(ttl=63, flags=0x13, dst="10.0.0.1", dport=8080, frag=0x1abc))
    expected[6:12] = bytes.fromhex("112233445566")
    expected[14] = 0x46
    assert out[:len(expected)] == bytes(expected)


def _bcc_example(path: str) -> str:
    """BCC's example ``path``, vendored in tests/data/bcc-examples (Apache-2.0, its LICENSE.txt)."""
    return shared_path("bcc-examples", path).read_text()


@root_only
def test_tc_neighbor_sharing_classifies_learned_addresses():
    # examples/networking/neighbor_sharing: classify_neighbor learns source addresses,
    # classify_wan gives their replies class 1 (the example's pyroute2 IPDB simulation
    # is not run: it makes namespaces and links of fixed names)
    from pybpf.bcc import BPF

    text = _bcc_example("examples/networking/neighbor_sharing/tc_neighbor_sharing.c")
    with BPF(text=text) as b:
        neighbor = b.load_func("classify_neighbor", b.SCHED_CLS).program
        wan = b.load_func("classify_wan", b.SCHED_CLS).program
        assert wan.test_run(_ipv4_tcp(dst="10.9.9.9")).retval == 0
        assert neighbor.test_run(_ipv4_tcp(src="10.9.9.9")).retval == 1
        assert wan.test_run(_ipv4_tcp(dst="10.9.9.9")).retval == 1
        assert wan.test_run(_ipv4_tcp(dst="10.9.9.8")).retval == 0
        arp = bytes(12) + struct.pack("!H", 0x0806) + bytes(40)
        assert wan.test_run(arp).retval == 0
        assert len(b["learned_ips"]) == 1


def _dns_query(name: str, dport: int = 53) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
    dns = struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)
    udp = struct.pack("!HHHH", 33333, dport, 8 + len(dns), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(dns), 1, 0, 64, 17, 0, bytes(4), bytes(4))
    return bytes(12) + struct.pack("!H", 0x0800) + ip + udp + dns


@root_only
def test_dns_matching_keeps_queries_for_names_in_its_table():
    # examples/networking/dns_matching: its own BPF_PACKET_HEADER structs (dns_hdr_t,
    # dns_char_t read a byte at a time through the cursor)
    import ctypes

    from pybpf.bcc import BPF

    text = _bcc_example("examples/networking/dns_matching/dns_matching.c")
    with BPF(text=text) as b:
        # as a tc program: BPF_PROG_TEST_RUN starts a socket filter's packet past the
        # Ethernet header, where a packet socket's filter sees it from the first byte
        program = b.load_func("dns_matching", b.SCHED_CLS).program
        cache = b["cache"]
        key = cache.Key()
        encoded = b"\x03foo\x03bar\x00"
        ctypes.memmove(ctypes.addressof(key), encoded, len(encoded))
        cache[key] = cache.Leaf()
        assert program.test_run(_dns_query("foo.bar")).retval == 0xffffffff    # -1: keep
        assert program.test_run(_dns_query("foo.baz")).retval == 0
        assert program.test_run(_dns_query("foo.bar", dport=5353)).retval == 0


@root_only
@pytest.mark.parametrize("path", ["examples/networking/vlan_learning/vlan_learning.c",
                                  "examples/networking/tunnel_monitor/monitor.c",
                                  "examples/networking/distributed_bridge/tunnel_mesh.c",
                                  "examples/networking/vlan_filter/data-plane-tracing.c"])
def test_packet_cursor_examples_pass_the_verifier(path):
    from pybpf.bcc import BPF

    text = _bcc_example(path)
    with BPF(text=text) as b:
        for name in b.translation.functions:
            assert b.load_func(name, b.SCHED_CLS).fd > 0


_C_TYPES = {"unsigned char": 8, "unsigned short": 16, "unsigned int": 32, "unsigned long long": 64}
_member = st.sampled_from(sorted(_C_TYPES)).flatmap(lambda t: st.tuples(
    st.just(t), st.one_of(st.none(), st.integers(1, _C_TYPES[t]).map(lambda n: f":{n}"),
                          st.integers(1, 4).map(lambda n: f"[{n}]"))))


@settings(max_examples=4, deadline=None)
@given(st.lists(st.lists(_member, min_size=1, max_size=8), min_size=12, max_size=12))
def test_layout_is_clangs_for_packed_structs(structs):
    # the bit offsets clang gives the members of a packed struct (what BCC's rewriter
    # reads from its AST), from the BTF of a compiled object
    import io

    from elftools.elf.elffile import ELFFile

    from pybpf.btf import BTF, Kind
    from pybpf.toolchain.compile import compile_c

    bodies = [" ".join(f"{t} m{i}{suffix or ''};" for i, (t, suffix) in enumerate(members)) for members in structs]
    source = "".join(f"struct s{n} {{ {body} }} __attribute__((packed));\n"
                     f"__attribute__((used)) static struct s{n} *v{n};\n" for n, body in enumerate(bodies))
    btf = BTF.parse(ELFFile(io.BytesIO(compile_c(source))).get_section_by_name(".BTF").data())
    for n, body in enumerate(bodies):
        clang = {m.name: m.offset for m in btf.find(f"s{n}", Kind.STRUCT).members}
        ours = {name: member.byte * 8 + member.bit for name, member in layout(f"s{n}", body).items()}
        assert ours == clang, body
