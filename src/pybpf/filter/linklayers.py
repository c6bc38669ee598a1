"""The protocol fields and direction flags of the less common link layers: each names
its payload its own way (an ethertype at some offset, a PPP protocol number, an address
family, a Frame Relay NLPID, an ARCnet protocol byte...), and a few record which way the
packet went.

Values are those of each header's definition, as libpcap's gencode uses them; a protocol
a link layer cannot carry is a test that never holds (libpcap then refuses the whole
expression if nothing else can match).
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.filter import ir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator

IP, IP6, ARP, RARP, ATALK = 0x0800, 0x86DD, 0x0806, 0x8035, 0x809B
ISO, STP = 0xFE, 0x42
#: PPP protocol numbers for the ethertypes (and SAPs) they carry
PPP_PROTOCOLS = {IP: 0x0021, IP6: 0x0057, ATALK: 0x0029, 0x6003: 0x0027, 0x8137: 0x002B, 0xE0: 0x002B,
                 0x8847: 0x0281, 0x0600: 0x0025, ISO: 0x0023, STP: 0x0031, 0xF0: 0x003F}
#: BSD/OS PPP: IPv4 as itself or Van Jacobson compressed / uncompressed TCP
PPP_BSDOS_IP = (0x0021, 0x002D, 0x002F)
#: Solaris ipnet's address families
IPNET_FAMILIES = {IP: 2, IP6: 26}
#: Frame Relay NLPIDs (RFC 2427), each after the UI control byte 0x03
FRELAY_NLPIDS = {IP: (0xCC,), IP6: (0x8E,), ISO: (0x81, 0x82, 0x83)}
#: Juniper's capture header starts with "MGC" and a flags byte
JUNIPER_MAGIC = 0x4D474300
#: ARCnet protocol IDs (RFC 1201 and the assigned numbers)
ARCNET_TYPES = {IP: 0xD4, IP6: 0xC4, ARP: 0xD5, RARP: 0xD6, ATALK: 0xDD}

#: direction tests: (offset, size, mask, value) for inbound and for outbound packets
DIRECTIONS = {
    "slip": ((0, c.B, None, 0), (0, c.B, None, 1)),             # SLIPDIR_IN / SLIPDIR_OUT
    "pppd": ((0, c.B, None, 0), (0, c.B, None, 1)),             # pppd's capture byte
    "ipnet": ((2, c.H, None, 2), (2, c.H, None, 1)),            # IPNET_INBOUND / IPNET_OUTBOUND
    "juniper": ((3, c.B, 0x01, 0x01), (3, c.B, 0x01, 0x00)),    # the flags byte's direction bit
    "brcm": ((12, c.B, 0xE0, 0x00), (12, c.B, 0xE0, 0x20)),     # Broadcom tag opcode: ingress/egress
    "dsa": ((12, c.B, 0x40, 0x00), (12, c.B, 0xC0, 0x40)),      # Marvell DSA: to CPU / from CPU
}


def linktype(gen: Generator, proto: int) -> ir.Fragment:
    """Packets whose link header says the payload is ``proto`` (an ethertype or SAP)."""
    style = gen.style
    field = gen.off_linktype
    if style == "ethertype":
        return gen.cmp(field, c.H, proto)
    if style == "ppp_bsdos":
        if proto == IP:
            return gen.any_of([gen.cmp(field, c.H, value) for value in PPP_BSDOS_IP])
        return gen.cmp(field, c.H, PPP_PROTOCOLS.get(proto, proto))
    if style == "ipnet":
        return gen.cmp(field, c.B, IPNET_FAMILIES[proto]) if proto in IPNET_FAMILIES else ir.always(False)
    if style == "juniper":
        # the payload's encapsulation depends on the interface; only the header is checked
        return gen.cmp(gen.off_linkhdr, c.W, JUNIPER_MAGIC, mask=0xFFFF_FF00)
    if style == "ltalk":
        return ir.always(proto == ATALK)            # LocalTalk carries AppleTalk only
    if style == "frelay":
        nlpids = FRELAY_NLPIDS.get(proto, ())
        return gen.any_of([gen.cmp(field, c.H, 0x0300 | n) for n in nlpids]) if nlpids else ir.always(False)
    if style == "arcnet":
        return gen.cmp(field, c.B, ARCNET_TYPES[proto]) if proto in ARCNET_TYPES else ir.always(False)
    raise AssertionError(style)


def direction(gen: Generator, where: str, outbound: bool) -> ir.Fragment:
    offset, size, mask, value = DIRECTIONS[where][outbound]
    return gen.cmp(gen.off_linkhdr + offset, size, value, mask=mask)
