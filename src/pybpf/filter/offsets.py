"""Header offsets known only when the packet is seen.

Behind a radiotap or PFLOG header, or an 802.11 header whose length depends on the frame
type, the network header's offset is computed once at the start of the program into a
scratch register, and every load beyond it reads ``[x + k]`` with X loaded from that
register. :class:`Rel` is such an offset; adding a constant keeps it relative, so code
that computes ``offset + 9`` works for fixed and variable offsets alike.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import ir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class Rel:
    """The offset ``M[reg] + k``."""

    reg: int
    k: int = 0

    def __add__(self, n: int) -> Rel:
        return Rel(self.reg, self.k + n)

    __radd__ = __add__


Offset = int | Rel


def load(offset: Offset, size: int) -> list[I]:
    """Statements loading the field at ``offset`` into A."""
    if isinstance(offset, Rel):
        return [I(c.LDX | c.MEM, k=offset.reg), I(c.LD | size | c.IND, k=offset.k)]
    return [I(c.LD | size | c.ABS, k=offset)]


def ipv4_header_length(nl: Offset) -> list[I]:
    """Statements leaving in X the offset of the header after an IPv4 header at ``nl``
    (its IHL, times 4, plus where it starts)."""
    if isinstance(nl, Rel):
        return [I(c.LDX | c.MEM, k=nl.reg), I(c.LD | c.B | c.IND, k=nl.k), I(c.ALU | c.AND | c.K, k=0x0F),
                I(c.ALU | c.LSH | c.K, k=2), I(c.ALU | c.ADD | c.X), I(c.MISC | c.TAX)]
    return [I(c.LDX | c.B | c.MSH, k=nl)]


def transport_base(nl: Offset) -> int:
    """The constant to add to X (from :func:`ipv4_header_length`) to reach the
    transport header."""
    return nl.k if isinstance(nl, Rel) else nl


def compute(stmts: list[I]) -> ir.Fragment:
    """A fragment that runs ``stmts`` and always continues (a prologue step)."""
    fragment = ir.always(True)
    fragment.head.stmts = list(stmts)
    fragment.const = None          # it has effects: never reduced away
    return fragment


def then(first: ir.Fragment, second: ir.Fragment) -> ir.Fragment:
    """Run ``first`` whatever its outcome, then ``second``."""
    ir.patch(first.true + first.false, second.head)
    return ir.Fragment(first.head, second.true, second.false)
