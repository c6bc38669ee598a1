"""ATM cells as SunATM captures them (DLT_SUNATM): ``vpi``/``vci``, the reserved
circuits (``oam``, ``oamf4``, ``oamf4sc``, ``oamf4ec``, ``metac``, ``bcc``, ``sc``,
``ilmic``), Q.2931 signalling messages on them (``connectmsg``, ``metaconnect``), and
``lane``, after which packets are read as LAN-emulated Ethernet.

The SunATM pseudo-header is a flags byte whose low nibble says what the payload is (1:
LANE, 2: LLC-encapsulated), the VPI byte and the VCI halfword; the payload follows at 4.
A LANE payload starts with a 2-byte LE client ID (0xff00 marks LE control frames, which
carry no Ethernet frame), then the Ethernet header.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.filter import ir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.syntax import Special

FLAGS, VPI, VCI, PAYLOAD = 0, 1, 2, 4
LANE, LLC = 1, 2
LE_CONTROL = 0xFF00
#: Q.2931 message type, in the signalling payload
MESSAGE_TYPE = PAYLOAD + 5
CALL_PROCEEDING, CONNECT, CONNECT_ACK, SETUP, RELEASE, RELEASE_DONE = 0x02, 0x07, 0x0F, 0x05, 0x4D, 0x5A
#: the well-known circuits on VPI 0, by VCI
CIRCUITS = {"oamf4sc": (3,), "oamf4ec": (4,), "oamf4": (3, 4), "oam": (3, 4), "metac": (1,), "bcc": (2,),
            "sc": (5,), "ilmic": (16,), "connectmsg": (5,), "metaconnect": (1,)}
MESSAGES = {"connectmsg": (CALL_PROCEEDING, CONNECT, CONNECT_ACK, SETUP, RELEASE, RELEASE_DONE),
            "metaconnect": (CALL_PROCEEDING, CONNECT, SETUP, RELEASE, RELEASE_DONE)}
KEYWORDS = {"vpi", "vci", "lane", *CIRCUITS}


def primitive(gen: Generator, node: Special) -> ir.Fragment:
    word = node.keyword.text
    if gen.link.name != "SUNATM":
        raise gen.error(f"'{word}' supported only on SUNATM, not {gen.link.name}", node.keyword)
    if word == "vpi":
        return gen.field_match(node, 0xFF, lambda v, op, rev: gen.cmp(VPI, c.B, v, op, reverse=rev))
    if word == "vci":
        return gen.field_match(node, 0xFFFF, lambda v, op, rev: gen.cmp(VCI, c.H, v, op, reverse=rev))
    if word == "lane":
        return lane(gen)
    circuit = ir.both(gen.cmp(VPI, c.B, 0), gen.any_of([gen.cmp(VCI, c.H, vci) for vci in CIRCUITS[word]]))
    if word not in MESSAGES:
        return circuit
    return ir.both(circuit, gen.any_of([gen.cmp(MESSAGE_TYPE, c.B, m) for m in MESSAGES[word]]))


def lane(gen: Generator) -> ir.Fragment:
    """LANE traffic; from here on the payload is read as Ethernet (as in libpcap, which
    assumes LAN emulation means Ethernet, not Token Ring)."""
    matched = gen.cmp(FLAGS, c.B, LANE, mask=0x0F)
    gen.style = "lane"
    gen.off_linkhdr = PAYLOAD + 2
    gen.off_linktype = gen.off_linkhdr + 12
    gen.off_linkpl = gen.off_linkhdr + 14
    gen.off_nl = 0
    gen.macs = (gen.off_linkhdr, gen.off_linkhdr + 6)
    return matched


def llc_encapsulated(gen: Generator) -> ir.Fragment:
    return gen.cmp(FLAGS, c.B, LLC, mask=0x0F)


def not_le_control(gen: Generator) -> ir.Fragment:
    """LANE data frames (LE control frames carry no Ethernet header)."""
    return gen.cmp(PAYLOAD, c.H, LE_CONTROL, reverse=True)
