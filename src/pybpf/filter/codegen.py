"""Code generation: a pcap-filter syntax tree into a graph of classic BPF tests.

Each primitive becomes a :class:`~pybpf.filter.ir.Fragment` of tests on packet bytes at
offsets the link layer decides (the protocol field, the network header, the transport
header found through the IPv4 header length); ``and``/``or``/``not`` wire fragments
together. Some primitives change what later ones mean, as in libpcap: after ``vlan`` or
``mpls`` the headers sit 4 bytes further on, after ``pppoes`` the protocol field is
PPP's — so the tree is generated left to right with that state carried along.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import atm, ir, linklayers, linux, pflog, ss7, stations, wlan
from pybpf.filter.addresses import Addresses
from pybpf.filter.arith import JUMPS, ArithGen
from pybpf.filter.encapsulation import tunnel
from pybpf.filter.errors import FilterError
from pybpf.filter.lexer import Token
from pybpf.filter.linklayers import PPP_PROTOCOLS
from pybpf.filter.linktypes import LINK_TYPES, LinkLayout
from pybpf.filter.offsets import Offset, Rel, ipv4_header_length, load, then, transport_base
from pybpf.filter.offsets import compute as offsets_compute
from pybpf.filter.protocols import (
    AF_INET6_BSD,
    ETHERMTU,
    ETHERTYPE_KEYWORDS,
    FRAGMENT_HEADER,
    IP,
    IP6,
    IP_KEYWORDS,
    ISIS_PDUS,
    ISO_KEYWORDS,
    LINUX_SLL_P_802_2,
    LINUX_SLL_P_802_3,
    LLC_KEYWORDS,
    LLC_S_COMMANDS,
    LLC_U_COMMANDS,
    MPLS,
    MPLS_LINKS,
    PPPOED,
    PPPOES,
    VLAN_TPIDS,
)
from pybpf.filter.syntax import And, Node, Not, Or, Primitive, Protocol, Relation, Special


class Generator(Addresses):
    """Generates one expression for one link type; state (offsets shifted by vlan/mpls/
    pppoes) lives here while the tree is walked left to right."""

    def __init__(self, link: LinkLayout, expression: str, netmask: int, linux_extensions: bool = False):
        self.link = link
        #: generate Linux ancillary loads where a live capture needs them (see linux.py)
        self.linux_extensions = linux_extensions
        self.vlan_depth = 0
        self.expression = expression
        self.netmask = netmask
        self.style = link.style
        self.off_linkhdr: Offset = link.off_linkhdr
        self.off_linktype: Offset | None = link.off_linktype
        self.off_linkpl: Offset = link.off_linkpl
        self.off_nl = 0             # network header from off_linkpl (beyond MPLS labels)
        self.iso_offset = link.iso_offset
        self.macs = link.macs                # (destination, source) offsets
        self.llc = link.llc
        self.mpls_depth = 0
        #: scratch registers holding run-time offsets, and the prologue that sets each
        self.variables: dict[int, ir.Fragment] = {}
        self.guards: set[int] = set()
        self.arith = ArithGen(self)
        self._variable_offsets()

    def _variable_offsets(self) -> None:
        """Link layers whose payload offset depends on the packet get it computed into a
        scratch register by a prologue (used only if some test reads beyond it)."""
        if self.style in ("wlan", "radiotap"):
            if self.style == "radiotap":       # any radio header: radiotap, AVS, Prism, PPI
                self.off_linkhdr = Rel(self.variable(wlan.RADIO_HEADERS[self.link.name],
                                                     guard=self.link.name in wlan.GUARDED))
            datapad = self.link.name == "IEEE802_11_RADIO"
            payload = self.variable(lambda reg: wlan.payload_offset(self.off_linkhdr, reg, datapad))
            self.off_linkpl = Rel(payload)
            self.off_linktype = Rel(payload, 6)      # in the LLC/SNAP header
            self.off_nl = 8
        elif self.style in ("llc", "sunatm"):
            self.off_nl = 8                              # past the LLC and SNAP headers
        elif self.style == "pflog":
            self.off_linkpl = Rel(self.variable(lambda reg: offsets_compute([
                I(c.LD | c.B | c.ABS, k=0), I(c.ALU | c.ADD | c.K, k=3), I(c.ALU | c.AND | c.K, k=0xFFFF_FFFC),
                I(c.ST, k=reg)])))

    def variable(self, prologue, guard: bool = False) -> int:
        """A scratch register for a run-time offset; ``prologue(reg)`` builds the code
        that sets it at the start (None: code matching a primitive sets it). Registers
        are taken from the top, arithmetic takes them from 0. A ``guard`` prologue's
        failure rejects the packet (its header is not one the offsets apply to); other
        prologues always continue into the filter."""
        reg = c.MEMWORDS - 1 - len(self.variables)
        if reg < self.arith.next_register:
            raise self.error("expression too complicated: more than 16 scratch memory words needed")
        self.variables[reg] = prologue(reg) if prologue else None
        if guard:
            self.guards.add(reg)
        return reg

    def with_prologues(self, fragment: ir.Fragment) -> ir.Fragment:
        """The filter preceded by the prologues of the run-time offsets it reads (and of
        those those prologues read), in the order they were defined."""
        prologues = {reg for reg, code in self.variables.items() if code is not None}
        needed = _registers_read(fragment.head) & prologues
        for reg in sorted(self.variables, reverse=True):
            if reg in needed:
                needed |= _registers_read(self.variables[reg].head) & prologues
        for reg in sorted(needed):                   # last defined first: it runs last
            if fragment.const is None:
                prologue = self.variables[reg]
                fragment = ir.both(prologue, fragment) if reg in self.guards else then(prologue, fragment)
        return fragment

    # ---- errors -----------------------------------------------------------------------
    def error(self, reason: str, token: Token | None = None) -> FilterError:
        if token is None:
            return FilterError(reason, self.expression)
        return FilterError(reason, self.expression, token.pos, token.length)

    # ---- tree walk --------------------------------------------------------------------
    def generate(self, node: Node) -> ir.Fragment:
        """The fragment for ``node``. A chain of and/or (left-associated: the tree's left
        spine) and a run of ``not`` are walked in a loop, not by recursion, so 10,000
        ``or`` terms need no deeper Python stack than one."""
        nots = 0
        while isinstance(node, Not):
            nots += 1
            node = node.operand
        spine = []
        while isinstance(node, (And, Or)):
            spine.append(node)
            node = node.left
        fragment = self.generate_primitive(node)
        for joint in reversed(spine):
            combine = ir.both if isinstance(joint, And) else ir.either
            fragment = combine(fragment, self.generate(joint.right))
        for _ in range(nots):
            fragment = ir.negate(fragment)
        return fragment

    def generate_primitive(self, node: Node) -> ir.Fragment:
        if isinstance(node, Not):
            return self.generate(node)
        if isinstance(node, Protocol):
            return self.protocol(node.name)
        if isinstance(node, Primitive):
            return self.primitive(node)
        if isinstance(node, Relation):
            return self.arith.relation(node)
        if isinstance(node, Special):
            return self.special(node)
        raise AssertionError(f"unknown node {node!r}")

    # ---- loads and compares -------------------------------------------------------------
    def nl(self, offset: int = 0) -> Offset:
        """Offset of ``offset`` into the network-layer header."""
        if self.off_linkpl is None:
            raise self.error(f"link type {self.link.name} carries no network-layer header")
        return self.off_linkpl + self.off_nl + offset

    def cmp(self, offset: Offset, size: int, value: int, op: int = c.JEQ, mask: int | None = None,
            reverse: bool = False) -> ir.Fragment:
        if mask == 0:                        # nothing of the field is compared
            holds = {c.JEQ: value == 0, c.JGT: False, c.JGE: value == 0, c.JSET: False}[op]
            return ir.always(holds != reverse)
        stmts = load(offset, size)
        if mask is not None and mask != 0xFFFF_FFFF:
            stmts.append(I(c.ALU | c.AND | c.K, k=mask))
        fragment = ir.test(stmts, op | c.K, value)
        return ir.negate(fragment) if reverse else fragment

    def cmp_transport4(self, offset: int, size: int, value: int, op: int = c.JEQ) -> ir.Fragment:
        """A compare on the IPv4 transport header, found through the header length."""
        stmts = ipv4_header_length(self.nl()) + [I(c.LD | size | c.IND, k=transport_base(self.nl(offset)))]
        return ir.test(stmts, op | c.K, value)

    def field_match(self, node: Special, maximum: int, test) -> ir.Fragment:
        """A header field against the values of ``sio 3``, ``vpi > 100``, ``dpc (1 or 2)``
        (see the parser's ``field_values``): ``test(value, jump, reverse)`` builds one
        comparison."""
        args = node.args
        jump, reverse = (c.JEQ, False) if args[0].kind != "OP" else JUMPS[args[0].text]
        numbers = args[1:] if args[0].kind == "OP" else args
        for number in numbers:
            if number.value > maximum:
                raise self.error(f"{node.keyword.text} {number.value} greater than maximum {maximum}", number)
        return self.any_of([test(number.value, jump, reverse) for number in numbers])

    def any_of(self, fragments: list[ir.Fragment]) -> ir.Fragment:
        result = fragments[0]
        for fragment in fragments[1:]:
            result = ir.either(result, fragment)
        return result

    def all_of(self, fragments: list[ir.Fragment]) -> ir.Fragment:
        result = fragments[0]
        for fragment in fragments[1:]:
            result = ir.both(result, fragment)
        return result

    def bytes_equal(self, offset: int, data: bytes) -> ir.Fragment:
        """``data`` at ``offset``, compared a word then a half-word at a time from the end."""
        parts = []
        end = len(data)
        while end > 0:
            size = 4 if end >= 4 else 2 if end >= 2 else 1
            start = end - size
            bpf_size = {4: c.W, 2: c.H, 1: c.B}[size]
            parts.append(self.cmp(offset + start, bpf_size, int.from_bytes(data[start:end], "big")))
            end = start
        return self.all_of(parts)

    # ---- the link layer's protocol field ---------------------------------------------------
    def linktype(self, proto: int) -> ir.Fragment:
        """Packets whose link layer says the payload is ``proto`` (an ethertype, or an
        LLC SAP when <= 1500)."""
        style = self.style
        if self.mpls_depth:
            return self.mpls_payload(proto)
        if style == "ether":
            return self.ether_linktype(proto)
        if style in ("sll", "sll2"):
            return self.sll_linktype(proto)
        if style == "ppp":
            return self.cmp(self.off_linktype, c.H, PPP_PROTOCOLS.get(proto, proto))
        if style == "chdlc":
            return self.cmp(self.off_linktype, c.H, 0xFEFE if proto == 0xFE else proto)
        if style == "pflog":
            if proto not in (IP, IP6):
                return ir.always(False)
            families = [2] if proto == IP else list(AF_INET6_BSD)      # the BSDs' AF_INET / AF_INET6
            return self.any_of([self.cmp(1, c.B, family) for family in families])
        if style in ("wlan", "radiotap"):
            return ir.both(self.cmp(self.off_linkhdr, c.B, wlan.DATA, mask=0x0C), self.llc_linktype(proto))
        if style == "llc":
            return self.llc_linktype(proto)
        if style == "sunatm":
            return ir.both(atm.llc_encapsulated(self), self.llc_linktype(proto))
        if style == "lane":
            return ir.both(atm.not_le_control(self), self.ether_linktype(proto))
        if style in ("raw", "ipv4", "ipv6"):
            if proto not in (IP, IP6):
                return ir.always(False)
            if style == "raw":    # (SLIP's version nibble is read where libpcap reads it: at the start)
                return self.cmp(self.off_linkhdr, c.B, 0x40 if proto == IP else 0x60, mask=0xF0)
            return ir.always((style == "ipv4") == (proto == IP))
        if style in ("null", "loop"):
            return self.loopback_linktype(proto)
        if style in ("ethertype", "ppp_bsdos", "ipnet", "juniper", "ltalk", "frelay", "arcnet"):
            return linklayers.linktype(self, proto)
        if style == "none":
            raise self.error(f"link-layer type filtering not implemented for {self.link.name} "
                             "(it has no protocol field)")
        raise AssertionError(style)

    def mpls_payload(self, proto: int) -> ir.Fragment:
        """Inside an MPLS label stack nothing names the payload: IPv4 or IPv6 is
        recognised by the bottom-of-stack bit of the last label and the IP version."""
        if proto not in (IP, IP6):
            raise self.error(f"protocol {proto:#06x} over MPLS is not supported (only IPv4 and IPv6 are recognised)")
        bottom = self.cmp(self.nl(-2), c.B, 0x01, c.JSET)
        return ir.both(bottom, self.cmp(self.nl(), c.B, 0x40 if proto == IP else 0x60, mask=0xF0))

    def ether_linktype(self, proto: int) -> ir.Fragment:
        length_field = self.cmp(self.off_linktype, c.H, ETHERMTU, c.JGT, reverse=True)   # 802.3 frame
        llc = self.off_linktype + 2
        if proto in (0xFE, 0x06, 0xF0):      # ISO, IP-over-LLC, NetBEUI: DSAP and SSAP
            return ir.both(length_field, self.cmp(llc, c.H, proto << 8 | proto))
        if proto == 0xE0:                    # IPX: ethertype, SNAP, LLC or raw 802.3
            snap = self.snap(llc, 0x8137)
            frames = self.any_of([snap, self.cmp(llc, c.B, 0xE0), self.cmp(llc, c.H, 0xFFFF)])
            return ir.either(self.cmp(self.off_linktype, c.H, 0x8137), ir.both(length_field, frames))
        if proto in (0x809B, 0x80F3):        # AppleTalk, AARP: ethertype or SNAP
            return ir.either(self.cmp(self.off_linktype, c.H, proto), ir.both(length_field, self.snap(llc, proto)))
        if proto <= ETHERMTU:
            return ir.both(length_field, self.cmp(llc, c.B, proto))
        return self.cmp(self.off_linktype, c.H, proto)

    def llc_linktype(self, proto: int) -> ir.Fragment:
        """The protocol of an 802.2 LLC frame at the link payload (802.11 carries no
        ethertype field; SNAP's type field stands in for it)."""
        llc = self.off_linkpl
        if proto in (0xFE, 0x06, 0xF0):
            return self.cmp(llc, c.H, proto << 8 | proto)
        if proto == 0x809B:
            return self.snap(llc, proto)
        if proto <= ETHERMTU:
            return self.cmp(llc, c.B, proto)
        return self.cmp(llc + 6, c.H, proto)

    def snap(self, llc: int, proto: int) -> ir.Fragment:
        """An 802.2 SNAP header at ``llc`` (AA AA 03, OUI, type): AppleTalk's OUI is
        Apple's 08:00:07, AARP's (and the IPX rule's) the zero OUI."""
        oui = 0x080007 if proto == 0x809B else 0
        return ir.both(self.cmp(llc + 4, c.W, (oui & 0xFFFF) << 16 | proto),
                       self.cmp(llc, c.W, 0xAAAA0300 | oui >> 16))

    def sll_linktype(self, proto: int) -> ir.Fragment:
        field = self.off_linktype
        llc = self.off_linkpl
        if proto in (0xFE, 0x06, 0xF0):
            return ir.both(self.cmp(field, c.H, LINUX_SLL_P_802_2), self.cmp(llc, c.H, proto << 8 | proto))
        if proto == 0xE0:
            over_llc = ir.both(self.cmp(field, c.H, LINUX_SLL_P_802_2),
                               ir.either(self.cmp(llc, c.B, 0xE0), self.snap(llc, 0x8137)))
            return self.any_of([self.cmp(field, c.H, 0x8137), self.cmp(field, c.H, LINUX_SLL_P_802_3), over_llc])
        if proto in (0x809B, 0x80F3):
            snap = ir.both(self.cmp(field, c.H, LINUX_SLL_P_802_2), self.snap(llc, proto))
            return ir.either(self.cmp(field, c.H, proto), snap)
        if proto <= ETHERMTU:
            return ir.both(self.cmp(field, c.H, LINUX_SLL_P_802_2), self.cmp(llc, c.B, proto))
        return self.cmp(field, c.H, proto)

    def loopback_linktype(self, proto: int) -> ir.Fragment:
        """DLT_NULL carries the sender's address family in its own byte order, LOOP in
        network order; IPv6's family number differs between BSDs, so all are tried."""
        if proto == IP:
            families = [2]
        elif proto == IP6:
            families = list(AF_INET6_BSD)
        else:
            return ir.always(False)
        values = []
        for family in families:
            values.append(family)
            if self.style == "null":
                values.append(int.from_bytes(family.to_bytes(4, "little"), "big"))
        return self.any_of([self.cmp(self.off_linkhdr, c.W, v) for v in values])

    # ---- protocols --------------------------------------------------------------------
    def protocol(self, token: Token) -> ir.Fragment:
        name = token.text
        if name in ETHERTYPE_KEYWORDS:
            return self.linktype(ETHERTYPE_KEYWORDS[name])
        if name in IP_KEYWORDS:
            number, v4, v6 = IP_KEYWORDS[name]
            return self.ip_protocol(number, v4, v6)
        if name in LLC_KEYWORDS:
            self.need_llc(token)
            return self.linktype(LLC_KEYWORDS[name])
        if name in ISO_KEYWORDS:
            return self.iso_protocol(ISO_KEYWORDS[name], token)
        if name in ISIS_PDUS:
            isis = ISO_KEYWORDS["isis"]
            return self.any_of([ir.both(self.iso_protocol(isis, token),
                                        self.cmp(self.off_linkpl + self.iso_offset + 4, c.B, pdu, mask=0x1F))
                                for pdu in ISIS_PDUS[name]])
        if name in ("link", "ether", "ppp", "slip", "fddi", "tr", "wlan"):
            raise self.error(f"'{name}' alone is not a filter; use e.g. '{name} host ...' or '{name} proto ...'",
                             token)
        raise self.error(f"'{name}' is not supported by pybpf's filter compiler yet", token)

    def need_llc(self, token: Token) -> None:
        if not self.llc:
            raise self.error(f"'{token.text}' is not carried by link type {self.link.name}", token)

    def iso_protocol(self, number: int, token: Token) -> ir.Fragment:
        self.need_llc(token)
        if self.style == "frelay":         # the NLPID is the protocol field itself
            return self.cmp(self.off_linktype, c.H, 0x0300 | number)
        return ir.both(self.linktype(0xFE), self.cmp(self.off_linkpl + self.iso_offset, c.B, number))

    def ip_protocol(self, number: int, v4: bool = True, v6: bool = True) -> ir.Fragment:
        """IPv4 protocol field / IPv6 next header (directly or after a fragment header)."""
        parts = []
        if v4:
            parts.append(ir.both(self.linktype(IP), self.cmp(self.nl(9), c.B, number)))
        if v6:
            after_fragment = ir.both(self.cmp(self.nl(6), c.B, FRAGMENT_HEADER), self.cmp(self.nl(40), c.B, number))
            parts.append(ir.both(self.linktype(IP6), ir.either(self.cmp(self.nl(6), c.B, number), after_fragment)))
        return self.any_of(parts)

    def not_fragment(self) -> ir.Fragment:
        """IPv4 first fragments and whole datagrams (the transport header is there)."""
        return self.cmp(self.nl(6), c.H, 0x1FFF, c.JSET, reverse=True)

    # ---- everything else --------------------------------------------------------------
    def special(self, node: Special) -> ir.Fragment:
        word = node.keyword.text
        args = node.args
        if word in ("less", "greater"):
            op = c.JGT if word == "less" else c.JGE
            test = ir.test([I(c.LD | c.W | c.LEN)], op | c.K, args[0].value)
            return ir.negate(test) if word == "less" else test
        if word in ("broadcast", "multicast"):
            return self.cast(node)
        if word == "byte":
            return self.byte_op(node)
        if word == "vlan":
            return self.vlan(node)
        if word == "mpls":
            return self.mpls(node)
        if word in ("vxlan", "geneve"):
            return tunnel(self, node)
        if word == "pppoed":
            return self.linktype(PPPOED)
        if word == "pppoes":
            return self.pppoes(node)
        if word in ("inbound", "outbound") and self.style == "pflog":
            return pflog.direction(self, word == "outbound")
        if word in ("inbound", "outbound", "ifindex"):
            return self.direction_test(node)
        if word in ("ifname", "rset", "rnr", "srnr", "reason", "action"):
            return pflog.field(self, node.keyword, args[0])
        if word == "llc":
            return self.llc_frames(node)
        if word in atm.KEYWORDS:
            return atm.primitive(self, node)
        if word in ss7.UNIT_KINDS or word in ss7.FIELDS:
            return ss7.primitive(self, node)
        if word in ("type", "subtype", "dir") and self.style in ("wlan", "radiotap"):
            return wlan.type_subtype(self, node.keyword, args)
        if word in ("addr1", "addr2", "addr3", "addr4", "ra", "ta", "type", "subtype", "dir"):
            raise self.error(f"'{word}' is valid for 802.11 syntax only", node.keyword)
        raise self.error(f"'{word}' is not supported by pybpf's filter compiler yet", node.keyword)

    def cast(self, node: Special) -> ir.Fragment:
        word = node.keyword.text
        proto = node.proto.text if node.proto else None
        if proto in ("ether", "ppp", "slip", "fddi", "tr", "wlan"):
            proto = "link"
        if proto in (None, "link") and self.style in ("wlan", "radiotap"):
            if word == "multicast":
                return wlan.first_byte_of_destination(self, 0x01)
            return wlan.address(self, "dst", b"\xff" * 6)
        if proto in (None, "link") and self.link.address_size == 1:
            return stations.cast(self, node)
        if proto in (None, "link"):
            if self.macs is None:
                raise self.error(f"'{word}' is not supported on link type {self.link.name}", node.keyword)
            destination = self.macs[0]
            if word == "broadcast":
                test = self.bytes_equal(destination, b"\xff" * 6)
            else:
                test = self.cmp(destination, c.B, 1, c.JSET)
            return ir.both(atm.not_le_control(self), test) if self.style == "lane" else test
        if proto == "ip":
            if word == "multicast":
                # 224.0.0.0/4, as libpcap's master tests it (1.10.3 tests ">= 224", class E too)
                return ir.both(self.linktype(IP), self.cmp(self.nl(16), c.B, 0xE0, mask=0xF0))
            if self.netmask == 0xFFFF_FFFF:
                raise self.error("netmask not known, so 'ip broadcast' not supported", node.keyword)
            host = ~self.netmask & 0xFFFF_FFFF
            all_zero = self.cmp(self.nl(16), c.W, 0, mask=host)
            all_ones = self.cmp(self.nl(16), c.W, host, mask=host)
            return ir.both(self.linktype(IP), ir.either(all_zero, all_ones))
        if proto == "ip6":
            if word == "broadcast":
                raise self.error("only link-layer/IP broadcast filters supported", node.keyword)
            return ir.both(self.linktype(IP6), self.cmp(self.nl(24), c.B, 0xFF))
        raise self.error(f"only link-layer/IP {word} filters supported", node.proto)

    def byte_op(self, node: Special) -> ir.Fragment:
        index, op, value = node.args
        if value.value > 255:
            raise self.error(f"byte argument {value.value} greater than maximum 255", value)
        offset = self.off_linkhdr + index.value      # libpcap's gen_byteop: from the link-layer header
        if op.text == "==":
            return self.cmp(offset, c.B, value.value)
        if op.text == "<":
            return self.cmp(offset, c.B, value.value, c.JGE, reverse=True)
        if op.text == ">":
            return self.cmp(offset, c.B, value.value, c.JGT)
        alu = c.AND if op.text == "&" else c.OR
        stmts = load(offset, c.B) + [I(c.ALU | alu | c.K, k=value.value)]
        return ir.negate(ir.test(stmts, c.JEQ | c.K, 0))

    def vlan(self, node: Special) -> ir.Fragment:
        if self.style not in ("ether", "wlan", "radiotap") or self.link.name == "PPI":
            raise self.error(f"'vlan' not supported on link type {self.link.name}", node.keyword)
        vid = node.args[0].value if node.args else None
        if vid is not None and vid > 4095:
            raise self.error(f"VLAN tag {vid} greater than maximum 4095", node.args[0])
        self.vlan_depth += 1
        if self.linux_extensions and self.vlan_depth == 1 and self.link.name == "EN10MB" \
                and isinstance(self.off_linktype, int):
            return linux.vlan(self, VLAN_TPIDS, vid)       # the outermost tag may be in metadata
        tagged = self.any_of([self.linktype(tpid) for tpid in VLAN_TPIDS])
        if vid is not None:
            tagged = ir.both(tagged, self.cmp(self.off_linktype + 2, c.H, vid, mask=0x0FFF))
        self.off_linktype += 4
        self.off_linkpl += 4
        return tagged

    def mpls(self, node: Special) -> ir.Fragment:
        if self.mpls_depth:
            # inside a label stack: the previous label must not be the bottom one
            first = self.cmp(self.nl(-2), c.B, 0x01, c.JSET, reverse=True)
        else:
            if self.link.name not in MPLS_LINKS:
                raise self.error(f"'mpls' not supported on link type {self.link.name}", node.keyword)
            first = self.linktype(MPLS)
        if node.args:
            label = node.args[0].value
            if label > 0xFFFFF:
                raise self.error(f"MPLS label {label} greater than maximum 1048575", node.args[0])
            first = ir.both(first, self.cmp(self.nl(), c.W, label << 12, mask=0xFFFFF000))
        self.off_nl += 4
        self.mpls_depth += 1
        return first

    def pppoes(self, node: Special) -> ir.Fragment:
        """PPPoE session frames (of one session, given its number). What follows reads
        the PPP frame inside, as libpcap's gen_pppoes makes it: the link is PPP from
        here on (so ``ether host`` or ``vlan`` after it are errors, and ``pppoes`` again
        finds PPPoE inside), its header 6 bytes past the PPPoE header's start. The
        session test is the link's own test for ethertype 0x8864, so ``pppoes`` goes
        wherever that test does."""
        session = self.linktype(PPPOES)
        if node.args:
            number = node.args[0].value
            if number > 0xFFFF:
                raise self.error(f"PPPoE session number {number} greater than maximum 65535", node.args[0])
            session = ir.both(session, self.cmp(self.off_linkpl + 2, c.H, number))
        ppp = LINK_TYPES["PPP"]
        self.link = ppp
        self.off_linkhdr = self.off_linktype = self.off_linkpl + self.off_nl + 6
        self.off_linkpl = self.off_linkhdr + 2
        self.off_nl = 0
        self.style, self.llc, self.macs, self.iso_offset = ppp.style, ppp.llc, ppp.macs, ppp.iso_offset
        return session

    def llc_frames(self, node: Special) -> ir.Fragment:
        """802.2 LLC frames (not Ethernet II, not Novell's raw 802.3), optionally of one
        kind: I/S/U frames by the control field's low bits, or one S or U command."""
        if self.style == "ether" and self.link.name not in ("NETANALYZER", "NETANALYZER_TRANSPARENT"):
            frames = ir.both(self.cmp(self.off_linktype, c.H, ETHERMTU, c.JGT, reverse=True),
                             self.cmp(self.off_linkpl, c.H, 0xFFFF, reverse=True))
        elif self.style in ("wlan", "radiotap"):
            frames = self.cmp(self.off_linkhdr, c.B, wlan.DATA, mask=0x0C)     # every data frame is LLC
        elif self.style == "llc" and self.link.name in ("FDDI", "IEEE802", "ATM_RFC1483"):
            frames = ir.always(True)
        elif self.style == "sunatm":
            frames = atm.llc_encapsulated(self)
        else:
            raise self.error(f"'llc' not supported on link type {self.link.name}", node.keyword)
        if not node.args:
            return frames
        kind = node.args[0]
        name = kind.text.lower()
        control = self.off_linkpl + 2
        if name == "i":
            test = self.cmp(control, c.B, 0x01, c.JSET, reverse=True)
        elif name in ("s", "u"):
            test = self.cmp(control, c.B, 0x01 if name == "s" else 0x03, mask=0x03)
        elif name in LLC_S_COMMANDS:
            test = self.cmp(control, c.B, LLC_S_COMMANDS[name], mask=0x0F)
        elif name in LLC_U_COMMANDS:
            test = self.cmp(control, c.B, LLC_U_COMMANDS[name], mask=0xEF)
        else:
            raise self.error(f"unknown 802.2 LLC frame type '{kind.text}'", kind)
        return ir.both(frames, test)

    def direction_test(self, node: Special) -> ir.Fragment:
        word = node.keyword.text
        where = self.link.direction
        if self.linux_extensions and where != "sll2" and (where is None or word == "ifindex"):
            return linux.ifindex(node.args[0].value) if word == "ifindex" else linux.direction(word == "outbound")
        if where is None:
            raise self.error(f"'{word}' is not supported on link type {self.link.name} "
                             "(it carries no packet direction)" if word != "ifindex" else
                             f"'ifindex' is not supported on link type {self.link.name}", node.keyword)
        if word == "ifindex":
            if where != "sll2":
                raise self.error("'ifindex' is supported only on LINUX_SLL2", node.keyword)
            return self.cmp(4, c.W, node.args[0].value)
        if where in linklayers.DIRECTIONS:
            return linklayers.direction(self, where, word == "outbound")
        outgoing = self.cmp(0, c.H, 4) if where == "sll" else self.cmp(10, c.B, 4)
        return outgoing if word == "outbound" else ir.negate(outgoing)


def _registers_read(head: ir.Block) -> set[int]:
    """Scratch registers read (ld/ldx M[k]) anywhere in the graph from ``head``, open
    edges included (they are not patched yet)."""
    seen: set[int] = set()
    regs: set[int] = set()
    stack = [head]
    while stack:
        block = stack.pop()
        if block is None or block.id in seen:
            continue
        seen.add(block.id)
        for ins in block.stmts:
            if c.cls(ins.code) in (c.LD, c.LDX) and c.mode(ins.code) == c.MEM:
                regs.add(ins.k)
        if not block.is_return:
            stack += [block.jt, block.jf]
    return regs
