"""SS7 signalling links in filters (DLT_MTP2): the signal-unit kinds ``fisu``, ``lssu``
(``lsu``), ``msu`` and the MTP3 routing label fields ``sio``, ``opc``, ``dpc``, ``sls``;
the ``h``-prefixed forms are for high-speed links (Q.703 annex A), whose sequence numbers
and length indicator take one more byte each, moving everything after them 3 bytes on.

MTP2 carries no protocol field, so nothing above it (``ip``, ``tcp``...) can be matched.
The routing label packs its fields across byte boundaries in little-endian bit order;
each value is rearranged into the packet's layout and the containing bytes are compared
under a mask, as libpcap does — so ``dpc > 2`` compares those rearranged bytes, with
libpcap's results.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.filter import ir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.syntax import Special

#: where the MTP2 frame starts, per link type (MTP2_WITH_PHDR has a 4-byte pseudo-header)
HEADERS = {"MTP2": 0, "MTP2_WITH_PHDR": 4}
#: offsets in the frame: backward/forward sequence numbers, then the length indicator
#: (LI), the service information octet (SIO) and the routing label
LI, LI_HIGH_SPEED, SIO, LABEL, SLS = 2, 4, 3, 4, 7
HIGH_SPEED_SHIFT = 3
UNIT_KINDS = {"fisu", "lssu", "msu", "hfisu", "hlssu", "hmsu"}
FIELDS = {"sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls"}


def primitive(gen: Generator, node: Special) -> ir.Fragment:
    word = node.keyword.text
    if gen.link.name not in HEADERS:
        raise gen.error(f"'{word}' supported only on SS7 (MTP2) link types, not {gen.link.name}", node.keyword)
    base = HEADERS[gen.link.name]
    if word in UNIT_KINDS:
        return _unit_kind(gen, base, word)
    base += HIGH_SPEED_SHIFT if word.startswith("h") else 0
    field = word.removeprefix("h")
    if field == "sio":
        return gen.field_match(node, 255, lambda v, op, rev: gen.cmp(base + SIO, c.B, v, op, reverse=rev))
    if field == "opc":
        return gen.field_match(node, 16383, lambda v, op, rev: gen.cmp(base + LABEL, c.W, _opc(v), op,
                                                                         mask=0x00C0FF0F, reverse=rev))
    if field == "dpc":
        return gen.field_match(node, 16383, lambda v, op, rev: gen.cmp(base + LABEL, c.H, _dpc(v), op,
                                                                         mask=0xFF3F, reverse=rev))
    return gen.field_match(node, 15, lambda v, op, rev: gen.cmp(base + SLS, c.B, v << 4, op, mask=0xF0,
                                                                  reverse=rev))


def _unit_kind(gen: Generator, base: int, word: str) -> ir.Fragment:
    """The signal unit's kind by its length indicator: 0 for a fill-in unit, 1 or 2 for
    link status, more for a message (on high-speed links the LI is 9 bits, read here
    through the halfword it starts, so the limits are scaled by 0x80)."""
    if word.startswith("h"):
        offset, size, mask, status_max = base + LI_HIGH_SPEED, c.H, 0xFF80, 0x100
    else:
        offset, size, mask, status_max = base + LI, c.B, 0x3F, 2
    kind = word.removeprefix("h")
    if kind == "fisu":
        return gen.cmp(offset, size, 0, mask=mask)
    message = gen.cmp(offset, size, status_max, c.JGT, mask=mask)
    if kind == "msu":
        return message
    return ir.both(gen.cmp(offset, size, 0, c.JGT, mask=mask), ir.negate(message))


def _opc(value: int) -> int:
    """The originating point code as it sits in the label's first word: its low 2 bits
    in the third byte's top, the next 8 across the second byte, the top 4 in the first."""
    return (value & 0x3C00) >> 10 | (value & 0x03FC) << 6 | (value & 0x0003) << 22


def _dpc(value: int) -> int:
    """The destination point code as the label's first halfword holds it: low byte
    first, then the high 6 bits."""
    return (value & 0xFF) << 8 | (value & 0x3F00) >> 8
