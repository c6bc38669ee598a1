"""``protochain N``: does protocol N appear anywhere in the chain of IPv6 extension
headers (hop-by-hop, destination options, routing, fragment) and IPsec AH headers after
the IP header?

The chain has no fixed length, so the code is a loop, as libpcap's is: a backward ``ja``
to the test at its top. The cBPF interpreter and pybpf's engines run it; Linux refuses
backward jumps in classic socket filters, so such a filter runs in userspace (as libpcap
falls back to doing). The steps, including how libpcap advances past an AH header (X
becomes the AH length in bytes, counted from the network header), follow libpcap's code,
so the results are libpcap's.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import ir
from pybpf.filter.offsets import Rel

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.lexer import Token

NO_NEXT_HEADER = 59
AH = 51
IPV6_EXTENSIONS = (0, 60, 43, 44)       # hop-by-hop, destination options, routing, fragment


def protochain(gen: Generator, target: int, version: str, where: Token) -> ir.Fragment:
    """Packets of IP ``version`` ("ip" or "ip6") whose header chain contains ``target``."""
    nl = gen.nl()
    if isinstance(nl, Rel):
        raise gen.error(f"'protochain' is not supported on link type {gen.link.name} (its network header "
                        "offset is only known at run time)", where)
    reg = gen.arith.register()
    gen.arith.release()
    if version == "ip":
        start = [I(c.LD | c.B | c.ABS, k=nl + 9), I(c.LDX | c.B | c.MSH, k=nl)]
    else:
        start = [I(c.LD | c.B | c.ABS, k=nl + 6), I(c.LDX | c.IMM, k=40)]
    # the extension header's next-header byte and length, then back to the top with A = next
    extension = [I(c.LD | c.B | c.IND, k=nl), I(c.ST, k=reg), I(c.LD | c.B | c.IND, k=nl + 1),
                 I(c.ALU | c.ADD | c.K, k=1), I(c.ALU | c.MUL | c.K, k=8), I(c.ALU | c.ADD | c.X),
                 I(c.MISC | c.TAX), I(c.LD | c.MEM, k=reg)]
    ah = [I(c.LD | c.B | c.IND, k=nl), I(c.ST, k=reg), I(c.MISC | c.TXA), I(c.ALU | c.ADD | c.K, k=1),
          I(c.MISC | c.TAX), I(c.LD | c.B | c.IND, k=nl), I(c.ALU | c.ADD | c.K, k=2), I(c.ALU | c.MUL | c.K, k=4),
          I(c.MISC | c.TAX), I(c.LD | c.MEM, k=reg)]
    begin = ir.Block(start, c.JMP | c.JA)
    step = ir.test([], c.JEQ | c.K, target)          # the loop's top: A is the next protocol
    begin.jt = step.head
    end = ir.test([], c.JEQ | c.K, NO_NEXT_HEADER)
    ir.patch(step.false, end.head)
    following = end.false
    if version == "ip6":
        is_extension = gen.any_of([ir.test([], c.JEQ | c.K, number) for number in IPV6_EXTENSIONS])
        ir.patch(following, is_extension.head)
        ir.patch(is_extension.true, ir.Block(list(extension), c.JMP | c.JA, jt=step.head))
        following = is_extension.false
    is_ah = ir.test([], c.JEQ | c.K, AH)
    ir.patch(following, is_ah.head)
    ir.patch(is_ah.true, ir.Block(list(ah), c.JMP | c.JA, jt=step.head))
    chain = ir.Fragment(begin, step.true, end.true + is_ah.false)
    return ir.both(gen.linktype(0x0800 if version == "ip" else 0x86DD), chain)
