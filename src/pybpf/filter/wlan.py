"""IEEE 802.11 in filters: frame type/subtype/direction tests, the four address fields
and which of them is the source or destination for each frame kind, and the prologue that
finds the payload (a 24-byte header, 26 for QoS data, padded to 4 bytes when radiotap
says the driver padded it).

Frame-control values and names are IEEE 802.11's, with the spellings pcap-filter(7)
accepts.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import ir
from pybpf.filter.offsets import Offset, Rel, compute, then

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.lexer import Token

TYPES = {"mgt": 0x00, "management": 0x00, "ctl": 0x04, "control": 0x04, "data": 0x08}
SUBTYPES = {
    0x00: {"assoc-req": 0x00, "assocreq": 0x00, "assoc-resp": 0x10, "assocresp": 0x10, "reassoc-req": 0x20,
           "reassocreq": 0x20, "reassoc-resp": 0x30, "reassocresp": 0x30, "probe-req": 0x40, "probereq": 0x40,
           "probe-resp": 0x50, "proberesp": 0x50, "beacon": 0x80, "atim": 0x90, "disassoc": 0xA0,
           "disassociation": 0xA0, "auth": 0xB0, "authentication": 0xB0, "deauth": 0xC0,
           "deauthentication": 0xC0},
    0x04: {"bar": 0x80, "ba": 0x90, "ps-poll": 0xA0, "rts": 0xB0, "cts": 0xC0, "ack": 0xD0, "cf-end": 0xE0,
           "cf-end-ack": 0xF0},
    0x08: {"data": 0x00, "data-cf-ack": 0x10, "data-cf-poll": 0x20, "data-cf-ack-poll": 0x30, "null": 0x40,
           "cf-ack": 0x50, "cf-poll": 0x60, "cf-ack-poll": 0x70, "qos-data": 0x80, "qos-data-cf-ack": 0x90,
           "qos-data-cf-poll": 0xA0, "qos-data-cf-ack-poll": 0xB0, "qos": 0xC0, "qos-cf-poll": 0xE0,
           "qos-cf-ack-poll": 0xF0},
}
DIRECTIONS = {"nods": 0, "tods": 1, "fromds": 2, "dstods": 3}
HEADER = 24
#: where addr1..addr4 sit in the header (addr4 follows the sequence-control field)
ADDRESS_OFFSETS = {1: 4, 2: 10, 3: 16, 4: 24}
CONTROL, DATA = 0x04, 0x08
TO_DS, FROM_DS = 0x01, 0x02
CTS, ACK = 0xC0, 0xD0


# ---- prologues -----------------------------------------------------------------------
#: AVS capture headers start with this magic (the low 12 bits are the version)
AVS_MAGIC, AVS_MAGIC_MASK = 0x80211000, 0xFFFF_F000
PRISM_LENGTH = 144
#: PPI's DLT field (little-endian) for an 802.11 frame following the PPI header
PPI_DLT_80211 = 0x6900_0000


def avs_length(reg: int) -> ir.Fragment:
    """M[reg] = the AVS header's length (big-endian, at offset 4)."""
    return compute([I(c.LD | c.W | c.ABS, k=4), I(c.ST, k=reg)])


def prism_length(reg: int) -> ir.Fragment:
    """M[reg] = the Prism header's length: 144 bytes, unless the driver wrote an AVS
    header instead (which says its own length), as some Linux drivers do under this
    link type."""
    test = ir.test([I(c.LD | c.W | c.ABS, k=0), I(c.ALU | c.AND | c.K, k=AVS_MAGIC_MASK)], c.JEQ | c.K, AVS_MAGIC)
    avs = compute([I(c.LD | c.W | c.ABS, k=4)])
    fixed = compute([I(c.LD | c.IMM, k=PRISM_LENGTH)])
    ir.patch(test.true, avs.head)
    ir.patch(test.false, fixed.head)
    store = compute([I(c.ST, k=reg)])
    ir.patch(avs.true + fixed.true, store.head)
    return ir.Fragment(test.head, store.true, [])


def ppi_length(reg: int) -> ir.Fragment:
    """M[reg] = the PPI header's length (little-endian at offset 2), for packets whose
    PPI header says an 802.11 frame follows; other packets fail (a guard prologue)."""
    return ir.both(ir.test([I(c.LD | c.W | c.ABS, k=4)], c.JEQ | c.K, PPI_DLT_80211), radiotap_length(reg))


def radiotap_length(reg: int) -> ir.Fragment:
    """M[reg] = the radiotap header's length (little-endian at offset 2)."""
    return compute([I(c.LD | c.B | c.ABS, k=3), I(c.ALU | c.LSH | c.K, k=8), I(c.MISC | c.TAX),
                    I(c.LD | c.B | c.ABS, k=2), I(c.ALU | c.OR | c.X), I(c.ST, k=reg)])


def payload_offset(header: Offset, reg: int, radiotap: bool) -> ir.Fragment:
    """M[reg] = where an 802.11 frame's payload starts, for the header at ``header``."""
    if isinstance(header, Rel):
        base = [I(c.LDX | c.MEM, k=header.reg), I(c.MISC | c.TXA), I(c.ALU | c.ADD | c.K, k=HEADER + header.k),
                I(c.ST, k=reg), I(c.LD | c.B | c.IND, k=header.k)]
    else:
        base = [I(c.LD | c.IMM, k=header + HEADER), I(c.ST, k=reg), I(c.LD | c.B | c.ABS, k=header)]
    data = ir.both(ir.test(base, c.JSET | c.K, DATA), ir.negate(ir.test([], c.JSET | c.K, CONTROL)))
    grow = compute([I(c.LD | c.MEM, k=reg), I(c.ALU | c.ADD | c.K, k=2), I(c.ST, k=reg)])
    qos = ir.both(ir.test([], c.JSET | c.K, 0x80), grow)
    after = then(qos, _padding(reg)) if radiotap else qos
    return ir.both(data, after)


def _padding(reg: int) -> ir.Fragment:
    """Round the offset up to 4 when radiotap's flags field has DATAPAD set (the flags
    byte follows the 8-byte TSFT field when that is present; with an extended presence
    bitmap its place is not fixed, and the offset is left alone)."""
    present = ir.test([I(c.LD | c.W | c.ABS, k=4)], c.JSET | c.K, 0x0200_0000)
    extended = ir.test([], c.JSET | c.K, 0x80)
    tsft = ir.test([], c.JSET | c.K, 0x0100_0000)
    after_tsft = ir.test([I(c.LD | c.B | c.ABS, k=16)], c.JSET | c.K, 0x20)
    first = ir.test([I(c.LD | c.B | c.ABS, k=8)], c.JSET | c.K, 0x20)
    ir.patch(tsft.true, after_tsft.head)
    ir.patch(tsft.false, first.head)
    padded = ir.Fragment(tsft.head, after_tsft.true + first.true, after_tsft.false + first.false)
    pad = compute([I(c.LD | c.MEM, k=reg), I(c.ALU | c.ADD | c.K, k=3), I(c.ALU | c.AND | c.K, k=0xFFFF_FFFC),
                   I(c.ST, k=reg)])
    return ir.both(ir.both(present, ir.both(ir.negate(extended), padded)), pad)


#: the header-length prologue of each link type with a radio header before 802.11
RADIO_HEADERS = {"IEEE802_11_RADIO": radiotap_length, "IEEE802_11_RADIO_AVS": avs_length,
                 "PRISM_HEADER": prism_length, "PPI": ppi_length}
#: those whose prologue rejects the packets it cannot handle (PPI with another DLT inside)
GUARDED = {"PPI"}
#: those whose radio header is also readable as ``radio[...]`` (PPI's is not, as in libpcap)
RADIO_LOADS = {"IEEE802_11_RADIO", "IEEE802_11_RADIO_AVS", "PRISM_HEADER"}


# ---- frame control -------------------------------------------------------------------

def type_subtype(gen: Generator, keyword: Token, args: list[Token]) -> ir.Fragment:
    header = gen.off_linkhdr
    word = keyword.text
    if word == "dir":
        value = gen.number_or_name(args[0], DIRECTIONS, "direction", 3, bits=True)
        return gen.cmp(header + 1, c.B, value, mask=0x03)
    if word == "type":
        kind = gen.number_or_name(args[0], TYPES, "802.11 frame type", 0x0C, bits=True)
        if len(args) == 1:
            return gen.cmp(header, c.B, kind, mask=0x0C)
        sub = gen.number_or_name(args[2], SUBTYPES.get(kind, {}), "802.11 frame subtype", 0xF0, bits=True)
        return gen.cmp(header, c.B, kind | sub, mask=0xFC)
    token = args[0]
    if token.kind == "NUM":
        raise gen.error("syntax error: a subtype number needs its type ('type T subtype N')", token)
    for kind, names in SUBTYPES.items():
        if token.text.lower() in names:
            return gen.cmp(header, c.B, kind | names[token.text.lower()], mask=0xFC)
    raise gen.error(f"unknown 802.11 subtype name '{token.text}'", token)


# ---- addresses -----------------------------------------------------------------------

def address(gen: Generator, which: str, mac: bytes) -> ir.Fragment:
    """``which`` is addr1..addr4, ra, ta, src or dst: the frame kinds that carry it, and
    the field it is in for each."""
    h = gen.off_linkhdr

    def field(n: int) -> ir.Fragment:
        return gen.bytes_equal(h + ADDRESS_OFFSETS[n], mac)

    def fc(bit: int, offset: int = 0) -> ir.Fragment:
        return gen.cmp(h + offset, c.B, bit, c.JSET)

    def not_cts_or_ack() -> ir.Fragment:
        control = gen.cmp(h, c.B, CONTROL, mask=0x0C)
        short = ir.either(gen.cmp(h, c.B, CTS, mask=0xF0), gen.cmp(h, c.B, ACK, mask=0xF0))
        return ir.negate(ir.both(control, short))

    if which == "addr1":
        return field(1)
    if which == "addr2":
        return ir.both(not_cts_or_ack(), field(2))
    if which == "addr3":
        return ir.both(ir.negate(gen.cmp(h, c.B, CONTROL, mask=0x0C)), field(3))
    if which == "addr4":
        return ir.both(gen.cmp(h + 1, c.B, TO_DS | FROM_DS, mask=0x03), field(4))
    if which == "ra":
        return ir.both(fc(DATA), field(1))
    if which == "ta":
        return ir.both(ir.both(fc(DATA), not_cts_or_ack()), field(2))
    not_control = ir.negate(fc(CONTROL))
    if which == "dst":
        # data frames to the distribution system carry the destination in addr3
        to_ds = ir.both(ir.both(fc(DATA), fc(TO_DS, 1)), field(3))
        other = ir.both(ir.negate(ir.both(fc(DATA), fc(TO_DS, 1))), field(1))
        return ir.both(not_control, ir.either(to_ds, other))
    # source: addr2, or addr3 from the distribution system, or addr4 between two of them
    from_ds = ir.both(fc(DATA), fc(FROM_DS, 1))
    wds = ir.both(ir.both(fc(DATA), fc(FROM_DS, 1)), fc(TO_DS, 1))
    in_addr4 = ir.both(wds, field(4))
    in_addr3 = ir.both(ir.both(from_ds, ir.negate(fc(TO_DS, 1))), field(3))
    in_addr2 = ir.both(ir.negate(ir.both(fc(DATA), fc(FROM_DS, 1))), field(2))
    return ir.both(not_control, ir.either(ir.either(in_addr4, in_addr3), in_addr2))


def first_byte_of_destination(gen: Generator, bit: int) -> ir.Fragment:
    """``multicast``: the group bit of the destination address."""
    h = gen.off_linkhdr

    def fc(flag: int, offset: int = 0) -> ir.Fragment:
        return gen.cmp(h + offset, c.B, flag, c.JSET)
    to_ds = ir.both(ir.both(fc(DATA), fc(TO_DS, 1)), gen.cmp(h + 16, c.B, bit, c.JSET))
    other = ir.both(ir.negate(ir.both(fc(DATA), fc(TO_DS, 1))), gen.cmp(h + 4, c.B, bit, c.JSET))
    return ir.both(ir.negate(fc(CONTROL)), ir.either(to_ds, other))
