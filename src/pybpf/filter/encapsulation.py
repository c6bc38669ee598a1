"""VXLAN and Geneve: tunnels over UDP whose inner frames filters can look into.

``vxlan [VNI]`` and ``geneve [VNI]`` match the UDP tunnel (over IPv4 or IPv6) and, as in
libpcap, make every primitive after them look at the encapsulated frame: the inner
headers' offsets are computed while matching and kept in scratch registers (VXLAN always
carries Ethernet; Geneve's protocol field says Ethernet, 0x6558, or names the inner
network protocol directly).
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import ir
from pybpf.filter.offsets import Rel, compute, ipv4_header_length, transport_base

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.syntax import Special

VXLAN_PORT, GENEVE_PORT = 4789, 6081
UDP = 17
TRANSPARENT_ETHERNET = 0x6558


def tunnel(gen: Generator, node: Special) -> ir.Fragment:
    kind = node.keyword.text
    if gen.style not in ("ether", "sll", "sll2", "raw", "ipv4", "ipv6", "null", "loop", "ppp", "chdlc", "pflog",
                         "wlan", "radiotap"):
        raise gen.error(f"'{kind}' not supported on link type {gen.link.name}", node.keyword)
    vni = None
    if node.args:
        vni = node.args[0].value
        if vni > 0xFFFFFF:
            raise gen.error(f"{kind.upper()} VNI {vni} greater than maximum 16777215", node.args[0])
    port = VXLAN_PORT if kind == "vxlan" else GENEVE_PORT
    paths = []
    for version in ("ip", "ip6"):
        tests = _udp_to(gen, version, port)
        tests += [_udp_field(gen, version, 8, c.B, 0x08, None) if kind == "vxlan"
                  else _udp_field(gen, version, 8, c.B, 0x00, 0xC0)]          # flags / Geneve version 0
        if vni is not None:
            tests.append(_udp_field(gen, version, 12, c.W, vni << 8, 0xFFFF_FF00))
        tests.append(compute(_udp_offset_in_a(gen, version)))
        paths.append(gen.all_of(tests))
    header, linktype, payload = (gen.variable(None) for _ in range(3))
    inner = _vxlan_offsets(header, linktype, payload) if kind == "vxlan" else _geneve_offsets(header, linktype,
                                                                                               payload)
    matched = ir.both(gen.any_of(paths), inner)
    gen.off_linkhdr, gen.off_linktype, gen.off_linkpl = Rel(header), Rel(linktype), Rel(payload)
    gen.off_nl = 0
    gen.style = "ether"
    gen.mpls_depth = 0
    return matched


def _udp_to(gen: Generator, version: str, port: int) -> list[ir.Fragment]:
    if version == "ip":
        return [gen.linktype(0x0800), gen.cmp(gen.nl(9), c.B, UDP), gen.not_fragment(),
                gen.cmp_transport4(2, c.H, port)]
    return [gen.linktype(0x86DD), gen.cmp(gen.nl(6), c.B, UDP), gen.cmp(gen.nl(42), c.H, port)]


def _udp_field(gen: Generator, version: str, offset: int, size: int, value: int, mask: int | None) -> ir.Fragment:
    if version == "ip6":
        return gen.cmp(gen.nl(40 + offset), size, value, mask=mask)
    stmts = ipv4_header_length(gen.nl()) + [I(c.LD | size | c.IND, k=transport_base(gen.nl(offset)))]
    if mask is not None:
        stmts.append(I(c.ALU | c.AND | c.K, k=mask))
    return ir.test(stmts, c.JEQ | c.K, value)


def _udp_offset_in_a(gen: Generator, version: str) -> list[I]:
    """Statements leaving the UDP header's absolute offset in A."""
    nl = gen.nl()
    if version == "ip":
        return ipv4_header_length(nl) + [I(c.MISC | c.TXA), I(c.ALU | c.ADD | c.K, k=transport_base(nl))]
    if isinstance(nl, Rel):
        return [I(c.LD | c.MEM, k=nl.reg), I(c.ALU | c.ADD | c.K, k=nl.k + 40)]
    return [I(c.LD | c.IMM, k=nl + 40)]


def _vxlan_offsets(header: int, linktype: int, payload: int) -> ir.Fragment:
    """From the UDP offset in A: the inner Ethernet header after UDP (8) and VXLAN (8)."""
    return compute([I(c.ALU | c.ADD | c.K, k=16), I(c.ST, k=header), I(c.ALU | c.ADD | c.K, k=12),
                    I(c.ST, k=linktype), I(c.ALU | c.ADD | c.K, k=2), I(c.ST, k=payload)])


def _geneve_offsets(header: int, linktype: int, payload: int) -> ir.Fragment:
    """From the UDP offset in A: Geneve's options length gives the inner frame; its
    protocol field is the inner ethertype unless it says Ethernet follows."""
    start = [I(c.ALU | c.ADD | c.K, k=8), I(c.MISC | c.TAX), I(c.ALU | c.ADD | c.K, k=2), I(c.ST, k=linktype),
             I(c.LD | c.B | c.IND, k=0), I(c.ALU | c.AND | c.K, k=0x3F), I(c.ALU | c.MUL | c.K, k=4),
             I(c.ALU | c.ADD | c.K, k=8), I(c.ALU | c.ADD | c.X), I(c.ST, k=header), I(c.LD | c.H | c.IND, k=2),
             I(c.LDX | c.MEM, k=header)]
    protocol = ir.test(start, c.JEQ | c.K, TRANSPARENT_ETHERNET)
    ethernet = compute([I(c.MISC | c.TXA), I(c.ALU | c.ADD | c.K, k=12), I(c.ST, k=linktype),
                        I(c.ALU | c.ADD | c.K, k=2), I(c.MISC | c.TAX)])
    ir.patch(protocol.true, ethernet.head)
    done = compute([I(c.STX, k=payload)])
    ir.patch(protocol.false + ethernet.true, done.head)
    return ir.Fragment(protocol.head, done.true, [])
