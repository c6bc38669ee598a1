"""Arithmetic in filters: ``proto[expr:size]``, ``len``, numbers and the operators
``+ - * / % & | ^ << >>``, compared with ``> >= == != < <=``.

Each expression compiles to straight-line statements leaving its value in A, plus the
protocol tests that must pass before its packet loads run (``tcp[13]`` only reads a TCP
header of an unfragmented IPv4 datagram). Intermediate values go to scratch memory
M[0..15]; constant subexpressions are folded here, so ``tcp[tcpflags] & tcp-syn`` loads
one byte and masks it.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter import ir, wlan
from pybpf.filter.offsets import Rel, ipv4_header_length, load, transport_base
from pybpf.filter.protocols import IP_KEYWORDS
from pybpf.filter.syntax import Arith, Binary, Length, Negative, Number, PacketLoad, Relation

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field

    from pybpf.filter.codegen import Generator
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

M32 = 0xFFFF_FFFF
_ALU = {"+": c.ADD, "-": c.SUB, "*": c.MUL, "/": c.DIV, "%": c.MOD, "&": c.AND, "|": c.OR, "^": c.XOR,
        "<<": c.LSH, ">>": c.RSH}
#: comparison -> (jump, negate)
JUMPS = {">": (c.JGT, False), ">=": (c.JGE, False), "==": (c.JEQ, False), "<": (c.JGE, True),
          "<=": (c.JGT, True), "!=": (c.JEQ, True)}
_SIZES = {1: c.B, 2: c.H, 4: c.W}
#: protocols whose header is found after the IPv4 header (its length from the IHL field)
_IPV4_TRANSPORTS = {"tcp", "udp", "sctp", "icmp", "igmp", "igrp", "pim", "vrrp", "carp"}
_NETWORK = {"ip", "ip6", "arp", "rarp", "atalk", "decnet", "lat", "sca", "moprc", "mopdl"}
#: protocols libpcap gives no ``proto[...]`` form (no fixed header offset to index from)
_NO_INDEX = {"aarp", "ah", "esp", "iso", "esis", "isis", "clnp", "stp", "ipx", "netbeui", "l1", "l2", "iih",
             "lsp", "snp", "csnp", "psnp"}


@dataclass
class Value:
    """Statements that leave a value in A (or a constant), and the tests that guard them."""

    stmts: list[I] = field(default_factory=list)
    guards: list[ir.Fragment] = field(default_factory=list)
    const: int | None = None


def _fold(op: str, a: int, b: int) -> int:
    if op == "+":
        return (a + b) & M32
    if op == "-":
        return (a - b) & M32
    if op == "*":
        return (a * b) & M32
    if op == "/":
        return a // b
    if op == "%":
        return a % b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "<<":
        return (a << b) & M32
    return a >> b


class ArithGen:
    def __init__(self, gen: Generator):
        self.gen = gen
        self.next_register = 0

    def register(self) -> int:
        if self.next_register >= c.MEMWORDS - len(self.gen.variables):
            raise self.gen.error("expression too complicated: more than 16 scratch memory words needed")
        self.next_register += 1
        return self.next_register - 1

    def release(self) -> None:
        self.next_register -= 1

    def relation(self, node: Relation) -> ir.Fragment:
        jump, negate = JUMPS[node.op.text]
        right, r = self.stored(node.right)
        left = self.value(node.left)
        guards = left.guards + right.guards      # a comparison keeps both sides' checks (gen_relation)
        if left.const is not None and right.const is not None:
            # tested when the program runs, as libpcap does (the optimizer decides it):
            # folded here, `x or 1 > 0` would never load what x reads, and keep short
            # packets libpcap's unoptimized program rejects
            test = ir.test([I(c.LD | c.IMM, k=left.const)], jump | c.K, right.const)
            test = ir.negate(test) if negate else test
        elif right.const is not None:
            test = ir.test(left.stmts, jump | c.K, right.const)
            test = ir.negate(test) if negate else test
        else:
            test = ir.test(self._beside(left, right, r), jump | c.X, 0)
            test = ir.negate(test) if negate else test
        if r is not None:
            self.release()
        return self.gen.all_of(guards + [test])

    def stored(self, node: Arith) -> tuple[Value, int | None]:
        """The right operand of a binary operator or comparison, and — when it is not a
        constant — the scratch word reserved to hold it while the left operand is
        computed (reserved before the left operand's code is generated, so no nested
        operation there reuses it). The caller releases the word."""
        right = self.value(node)
        return right, (None if right.const is not None else self.register())

    def load(self, value: Value) -> list[I]:
        """Statements putting the value in A."""
        if value.const is not None:
            return [I(c.LD | c.IMM, k=value.const)]
        return list(value.stmts)

    def value(self, node: Arith) -> Value:
        if isinstance(node, Number):
            return Value(const=node.value & M32)
        if isinstance(node, Length):
            return Value([I(c.LD | c.W | c.LEN)])
        if isinstance(node, Negative):
            inner = self.value(node.operand)
            if inner.const is not None:
                return Value(guards=inner.guards, const=-inner.const & M32)
            return Value(inner.stmts + [I(c.ALU | c.NEG)], inner.guards)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, PacketLoad):
            return self.packet_load(node)
        raise AssertionError(node)

    def binary(self, node: Binary) -> Value:
        op = node.op.text
        right, r = self.stored(node.right)
        left = self.value(node.left)
        # libpcap's gen_arth keeps only the left operand's protocol checks: `ip[2:2] -
        # tcp[12] != 0` also matches IPv4 packets that are not TCP (see filter-language.md)
        guards = left.guards
        if right.const is not None:
            if op in ("/", "%") and right.const == 0:
                raise self.gen.error("division by zero" if op == "/" else "modulus by zero", node.op)
            if op in ("<<", ">>") and right.const > 31:
                raise self.gen.error(f"shift by {right.const} bits: more than 31", node.op)
            if left.const is not None:
                return Value(guards=guards, const=_fold(op, left.const, right.const))
            return Value(left.stmts + [I(c.ALU | _ALU[op] | c.K, k=right.const)], guards)
        stmts = self._beside(left, right, r) + [I(c.ALU | _ALU[op] | c.X)]
        self.release()
        return Value(stmts, guards)

    def _beside(self, left: Value, right: Value, r: int | None) -> list[I]:
        """Statements leaving the left operand in A and the right one in X. A constant
        left operand needs no scratch word: ``tax; ld #k``, as libpcap's program has it
        (its optimizer turns the store and reload of the right operand into ``tax``)."""
        if left.const is not None:
            return self.load(right) + [I(c.MISC | c.TAX), I(c.LD | c.IMM, k=left.const)]
        return self.load(right) + [I(c.ST, k=r)] + self.load(left) + [I(c.LDX | c.MEM, k=r)]

    def packet_load(self, node: PacketLoad) -> Value:
        gen = self.gen
        name = node.proto.text
        size = _SIZES[node.size]
        index = self.value(node.index)
        guards = list(index.guards)
        if name in ("link", "ether", "ppp", "slip", "fddi", "tr", "wlan"):   # all spell the link layer
            base = gen.off_linkhdr
        elif name == "radio":
            if gen.link.name not in wlan.RADIO_LOADS:
                raise gen.error(f"'radio' needs a radio header; link type {gen.link.name} has none", node.proto)
            base = 0
        elif name in _IPV4_TRANSPORTS:
            guards.append(gen.ip_protocol(IP_KEYWORDS[name][0], True, False))
            guards.append(gen.not_fragment())
            header = ipv4_header_length(gen.nl())
            base = transport_base(gen.nl())
            if index.const is not None:
                stmts = header + [I(c.LD | size | c.IND, k=(base + index.const) & M32)]
            else:
                r = self.register()
                stmts = index.stmts + [I(c.ST, k=r)] + header + [
                    I(c.LD | c.MEM, k=r), I(c.ALU | c.ADD | c.X), I(c.MISC | c.TAX), I(c.LD | size | c.IND, k=base)]
                self.release()
            return Value(stmts, guards)
        elif name == "icmp6":
            guards.append(ir.both(gen.linktype(0x86DD), gen.cmp(gen.nl(6), c.B, 58)))   # no extension headers
            base = gen.nl(40)
        elif name in _NO_INDEX:
            raise gen.error(f"'{name}' does not support the index operation", node.proto)
        elif name in _NETWORK:
            guards.append(gen.protocol(node.proto))
            base = gen.nl()
        else:
            raise gen.error(f"'{name}[...]' is not supported", node.proto)
        if index.const is not None:
            return Value(load(base + index.const, size), guards)
        if isinstance(base, Rel):
            to_x = [I(c.LDX | c.MEM, k=base.reg), I(c.ALU | c.ADD | c.X), I(c.MISC | c.TAX)]
            return Value(index.stmts + to_x + [I(c.LD | size | c.IND, k=base.k)], guards)
        return Value(index.stmts + [I(c.MISC | c.TAX), I(c.LD | size | c.IND, k=base)], guards)
