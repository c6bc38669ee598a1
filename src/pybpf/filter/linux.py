"""Linux socket-filter extensions for live captures (``compile(..., linux_extensions=True)``):
the kernel hands a socket filter packet metadata through ancillary loads
(``ld [SKF_AD_OFF + n]``), and libpcap uses them when it compiles for a live Linux
capture, because there the packet bytes no longer say it:

* ``inbound``/``outbound``: the packet type (PACKET_OUTGOING is 4) — the link header
  has no direction;
* ``ifindex N``: the receiving interface;
* ``vlan [ID]``: the kernel strips a hardware-accelerated 802.1Q tag from the frame into
  metadata, so the tag is in the metadata *or* in the frame. Headers after it are then
  4 bytes further on only in the second case; that shift is kept in a scratch register
  (0 at the start, 4 when the tag was in the frame) which later loads add.

Programs using these only run under Linux (or the cBPF interpreter given the metadata as
keywords: ``vlan_avail=1, vlan_tci=...``); capture files need the default code.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import ir
from pybpf.filter.offsets import Rel, compute

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator

PACKET_OUTGOING = 4
M32 = 0xFFFF_FFFF


def ancillary(name: str, size: int) -> list[I]:
    """The load of metadata field ``name`` (pybpf.cbpf.opcodes.SKF_AD's spelling)."""
    return [I(c.LD | size | c.ABS, k=(c.SKF_AD_OFF + c.SKF_AD[name]) & M32)]


def direction(outbound: bool) -> ir.Fragment:
    outgoing = ir.test(ancillary("type", c.H), c.JEQ | c.K, PACKET_OUTGOING)
    return outgoing if outbound else ir.negate(outgoing)


def ifindex(index: int) -> ir.Fragment:
    return ir.test(ancillary("ifidx", c.W), c.JEQ | c.K, index)


def vlan(gen: Generator, tpids: tuple[int, ...], vid: int | None) -> ir.Fragment:
    """The outermost VLAN tag, in the metadata or in the frame; afterwards the link type
    and payload offsets are relative to the shift register."""
    shift = gen.variable(lambda reg: compute([I(c.LD | c.IMM, k=0), I(c.ST, k=reg)]))
    field = gen.off_linktype
    in_metadata = ir.test(ancillary("vlan_avail", c.B), c.JEQ | c.K, 1)
    in_frame = ir.both(compute([I(c.LD | c.IMM, k=4), I(c.ST, k=shift)]),
                       gen.any_of([gen.cmp(field, c.H, tpid) for tpid in tpids]))
    tagged = ir.either(in_metadata, in_frame)
    if vid is not None:
        where = ir.test(ancillary("vlan_avail", c.B), c.JEQ | c.K, 1)
        compare = ir.test([I(c.ALU | c.AND | c.K, k=0x0FFF)], c.JEQ | c.K, vid)
        ir.patch(where.true, ir.Block(ancillary("vlan_tci", c.H), c.JMP | c.JA, jt=compare.head))
        ir.patch(where.false, ir.Block([I(c.LD | c.H | c.ABS, k=field + 2)], c.JMP | c.JA, jt=compare.head))
        tagged = ir.both(tagged, ir.Fragment(where.head, compare.true, compare.false))
    gen.off_linktype = Rel(shift, field)
    gen.off_linkpl = Rel(shift, gen.off_linkpl)
    return tagged
