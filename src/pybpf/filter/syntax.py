"""The parsed form of a filter expression: boolean structure over primitives, each
primitive carrying the qualifiers in force where it was written (pcap-filter(7)'s
``proto dir type`` triple, with libpcap's carry-over into ``host a or b``).

Every node keeps the position of the token it came from, so code generation can point
at the culprit when a qualifier does not fit its value.
"""

from __future__ import annotations

from pybpf.filter.lexer import Token

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field


@dataclass(frozen=True)
class Qualifiers:
    """``proto`` (a protocol keyword or None), ``dir`` (src, dst, "src or dst",
    "src and dst", addr1..4, ra, ta or None) and ``type`` (host, net, port,
    portrange, proto, protochain, gateway or None)."""

    proto: Token | None = None
    dir: Token | None = None
    type: Token | None = None
    dir_text: str | None = None

    @property
    def proto_name(self) -> str | None:
        return self.proto.text if self.proto else None

    @property
    def type_name(self) -> str | None:
        return self.type.text if self.type else None


NO_QUALIFIERS = Qualifiers()


class Node:
    """Base of the syntax tree."""


@dataclass
class And(Node):
    left: Node
    right: Node


@dataclass
class Or(Node):
    left: Node
    right: Node


@dataclass
class Not(Node):
    operand: Node


@dataclass
class Primitive(Node):
    """A qualified value: ``src host 10.0.0.1``, ``tcp port 80``, ``net 10/8``,
    ``ether host aa:bb:..``; ``value`` is the token (NUM/HID/HID6/EID/ID) and, for
    ``net a/len`` and ``net a mask m``, ``prefix``/``mask``."""

    qualifiers: Qualifiers
    value: Token
    prefix: Token | None = None
    mask: Token | None = None


@dataclass
class Protocol(Node):
    """A protocol keyword alone: ``tcp``, ``ip6``, ``arp``..."""

    name: Token


@dataclass
class Special(Node):
    """The other primitives: broadcast, multicast, less, greater, vlan, mpls, llc,
    802.11 type/dir and the rest; ``args`` are their tokens."""

    keyword: Token
    proto: Token | None = None
    args: list[Token] = field(default_factory=list)


# ---- arithmetic -----------------------------------------------------------------------

class Arith:
    """Base of arithmetic expressions."""


@dataclass
class Number(Arith):
    token: Token

    @property
    def value(self) -> int:
        return self.token.value


@dataclass
class Length(Arith):
    token: Token


@dataclass
class PacketLoad(Arith):
    """``proto[index]``, ``proto[index:size]``."""

    proto: Token
    index: Arith
    size: int


@dataclass
class Binary(Arith):
    op: Token
    left: Arith
    right: Arith


@dataclass
class Negative(Arith):
    token: Token
    operand: Arith


@dataclass
class Relation(Node):
    op: Token
    left: Arith
    right: Arith
