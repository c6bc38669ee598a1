"""pcap-filter(7) grammar, by recursive descent: ``and``/``or`` share one precedence and
associate left, ``not`` binds tighter, and a bare value after ``and``/``or``/``not``
inherits the qualifiers written before it (``host a or b``, ``tcp port 80 or 443``).

Where the grammar needs more than one token of look-ahead (``(`` starts either a boolean
group or arithmetic; a number after ``and`` is either an inherited value or the start of
a comparison) the parser tries the narrower reading and falls back; of several failed
readings it reports the one that got furthest, pointing at the offending token.
"""

from __future__ import annotations

from pybpf.filter.errors import FilterError
from pybpf.filter.lexer import Token, tokenize
from pybpf.filter.syntax import (
    NO_QUALIFIERS,
    And,
    Arith,
    Binary,
    Length,
    Negative,
    Node,
    Not,
    Number,
    Or,
    PacketLoad,
    Primitive,
    Protocol,
    Qualifiers,
    Relation,
    Special,
)

#: protocol keywords (pcap-filter's ``proto`` qualifier); link-layer spellings mean ``link``
PROTOCOLS = {
    "link", "ether", "ppp", "slip", "fddi", "tr", "wlan", "ip", "ip6", "arp", "rarp", "sctp", "tcp", "udp",
    "icmp", "igmp", "igrp", "pim", "vrrp", "carp", "radio", "icmp6", "ah", "esp", "atalk", "aarp", "decnet", "lat",
    "sca", "moprc", "mopdl", "iso", "esis", "isis", "l1", "l2", "iih", "lsp", "snp", "csnp", "psnp", "clnp", "stp",
    "ipx", "netbeui",
}
LINK_SPELLINGS = {"link", "ether", "ppp", "slip", "fddi", "tr", "wlan"}
DIRECTIONS = {"src", "dst", "addr1", "addr2", "addr3", "addr4", "ra", "ta"}
ADDRESS_TYPES = {"host", "net", "port", "portrange", "gateway", "proto", "protochain"}
RELATIONS = {">", ">=", "==", "<", "<=", "!="}
_LEVELS = [{"|", "^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"}]
_VALUE_KINDS = {"NUM", "HID", "HID6", "EID", "AID", "ID"}
#: keywords that take an optional number: ``vlan 10``, ``mpls``
_OPTIONAL_NUMBER = {"vlan", "mpls", "pppoes", "geneve", "vxlan"}
_NUMBER_ARG = {"less", "greater", "ifindex", "rnr", "srnr"}
#: header fields compared with a number: ``sio 3``, ``vpi > 100``, ``dpc (1 or 2)``
_FIELD_ARG = {"sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls", "vpi", "vci"}
_NAME_ARG = {"ifname", "rset", "action", "reason"}
_ALONE = {"inbound", "outbound", "pppoed", "fisu", "lssu", "msu", "hfisu", "hlssu", "hmsu", "lane", "metac",
          "bcc", "oam", "oamf4", "oamf4ec", "oamf4sc", "sc", "ilmic", "connectmsg", "metaconnect"}


#: deepest parenthesis nesting accepted (libpcap's bison parser gives up, "memory
#: exhausted", between 5,000 and 10,000 levels)
MAX_NESTING = 5000


def parse(expression: str) -> Node | None:
    """The syntax tree of ``expression`` (None for an empty one, which accepts all)."""
    parser = _Parser(expression)
    if parser.peek().kind == "END":
        return None
    try:
        node = parser.expression()
        token = parser.peek()
        if token.kind != "END":
            parser.fail(f"syntax error: unexpected {_describe(token)}", token)
    except FilterError as error:
        # of the readings tried, the one that got furthest explains the mistake best
        furthest = parser.furthest
        if furthest is not None and (furthest.position or 0) > (error.position or 0):
            raise furthest from None
        raise
    return node


def _describe(token: Token) -> str:
    return "end of expression" if token.kind == "END" else repr(token.text)


class _Parser:
    def __init__(self, expression: str):
        self.expression_text = expression
        self.tokens = tokenize(expression)
        self.i = 0
        self.furthest: FilterError | None = None
        #: arithmetic that failed to parse, by the position it started at: ``((((tcp))))``
        #: is tried as a comparison at each parenthesis, and would otherwise be re-read
        #: to its end each time (quadratic in the nesting)
        self.arith_failures: dict[int, FilterError] = {}
        nesting = running = 0
        for token in self.tokens:
            running += token.is_("OP", "(") - token.is_("OP", ")")
            nesting = max(nesting, running + token.is_("KEYWORD", "not"))
        if nesting > MAX_NESTING:
            raise FilterError(f"expression nested too deeply: more than {MAX_NESTING} levels of parentheses",
                              expression)

    # ---- token access -----------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def at(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        return self.peek(ahead).is_(kind, text)

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        return self.next() if self.at(kind, text) else None

    def expect(self, kind: str, text: str | None = None, what: str | None = None) -> Token:
        if self.at(kind, text):
            return self.next()
        self.fail(f"syntax error: expected {what or text or kind.lower()}, found {_describe(self.peek())}",
                  self.peek())
        raise AssertionError("unreachable")

    def fail(self, reason: str, token: Token) -> None:
        error = FilterError(reason, self.expression_text, token.pos, token.length or 1)
        if self.furthest is None or (error.position or 0) > (self.furthest.position or 0):
            self.furthest = error
        raise error

    def attempt(self, method, *args):
        """Run a reading; on failure restore the position and return None."""
        start = self.i
        try:
            return method(*args)
        except FilterError:
            self.i = start
            return None

    # ---- boolean structure ------------------------------------------------------------
    def expression(self) -> Node:
        node, qualifiers = self.term(NO_QUALIFIERS)
        while self.at("KEYWORD", "and") or self.at("KEYWORD", "or"):
            combine = And if self.next().text == "and" else Or
            inherited = self.attempt(self.inherited_value, qualifiers)
            if inherited is not None:
                right = inherited
            else:
                right, qualifiers = self.term(qualifiers)
            node = combine(node, right)
        return node

    def inherited_value(self, qualifiers: Qualifiers) -> Node:
        """A bare value after and/or, taking the qualifiers before it; only when what
        follows it ends the operand (else it starts a comparison or a term)."""
        node = self.value(qualifiers)
        token = self.peek()
        if not (token.kind == "END" or token.is_("OP", ")") or token.is_("KEYWORD", "and")
                or token.is_("KEYWORD", "or")):
            self.fail(f"syntax error: unexpected {_describe(token)}", token)
        return node

    def value(self, qualifiers: Qualifiers) -> Node:
        """libpcap's ``id``: ``not id``, ``( id and/or id ... )``, or one value."""
        nots = 0
        while self.accept("KEYWORD", "not"):
            nots += 1
        if nots:
            node = self.value(qualifiers)
            for _ in range(nots):
                node = Not(node)
            return node
        if self.at("OP", "("):
            self.next()
            node = self.value(qualifiers)
            while self.at("KEYWORD", "and") or self.at("KEYWORD", "or"):
                combine = And if self.next().text == "and" else Or
                node = combine(node, self.value(qualifiers))
            self.expect("OP", ")")
            return node
        token = self.peek()
        if token.kind not in _VALUE_KINDS:
            self.fail(f"syntax error: expected a host, network, port or protocol value, found {_describe(token)}",
                      token)
        self.next()
        if token.kind == "HID" or token.kind == "HID6":
            if self.accept("OP", "/"):
                return Primitive(qualifiers, token, prefix=self.expect("NUM", what="a prefix length"))
            if token.kind == "HID" and self.accept("KEYWORD", "mask"):
                return Primitive(qualifiers, token, mask=self.expect("HID", what="a netmask"))
        return Primitive(qualifiers, token)

    def term(self, qualifiers: Qualifiers) -> tuple[Node, Qualifiers]:
        """One operand of and/or, and the qualifiers a following bare value inherits."""
        nots = 0
        while self.accept("KEYWORD", "not"):
            nots += 1
        if nots:
            node, qualifiers = self.term(qualifiers)
            for _ in range(nots):
                node = Not(node)
            return node, qualifiers
        token = self.peek()
        if token.is_("OP", "("):
            relation = self.attempt(self.relation)
            if relation is not None:
                return relation, NO_QUALIFIERS
            self.next()
            node = self.expression()
            self.expect("OP", ")")
            return node, qualifiers
        if token.kind == "NUM" or token.is_("KEYWORD", "len") or token.is_("OP", "-") or (
                token.kind == "KEYWORD" and token.text in PROTOCOLS and self.at("OP", "[", 1)):
            relation = self.attempt(self.relation)
            if relation is not None:
                return relation, NO_QUALIFIERS
            if token.kind != "NUM":
                self.relation()          # report why it is not a comparison
        if token.kind in _VALUE_KINDS:
            return self.value(qualifiers), qualifiers
        if token.kind == "KEYWORD":
            return self.qualified(token)
        self.fail(f"syntax error: unexpected {_describe(token)}", token)
        raise AssertionError("unreachable")

    def qualified(self, first: Token) -> tuple[Node, Qualifiers]:
        """``[proto] [dir] [type] value`` or a protocol keyword alone or a special."""
        proto = None
        if first.text in PROTOCOLS:
            proto = self.next()
            follow = self.peek()
            if follow.kind != "KEYWORD" or not (follow.text in DIRECTIONS or follow.text in ADDRESS_TYPES
                                                 or follow.text in ("broadcast", "multicast", "type", "subtype",
                                                                    "dir")):
                return Protocol(proto), NO_QUALIFIERS
        token = self.peek()
        if token.text in ("broadcast", "multicast"):
            return Special(self.next(), proto), NO_QUALIFIERS
        if token.text in ("type", "subtype", "dir"):
            return self.wlan(proto), NO_QUALIFIERS
        direction, dir_text = self.direction()
        kind = None
        if self.at("KEYWORD") and self.peek().text in ADDRESS_TYPES:
            kind = self.next()
            if direction is not None and kind.text in ("proto", "protochain", "gateway"):
                self.fail(f"syntax error: '{kind.text}' takes no direction ('{dir_text}')", kind)
        if proto is None and direction is None and kind is None:
            return self.special(), NO_QUALIFIERS
        qualifiers = Qualifiers(proto, direction, kind, dir_text)
        return self.value(qualifiers), qualifiers

    def direction(self) -> tuple[Token | None, str | None]:
        token = self.peek()
        if token.kind != "KEYWORD" or token.text not in DIRECTIONS:
            return None, None
        self.next()
        if token.text in ("src", "dst"):
            other = "dst" if token.text == "src" else "src"
            joiner = self.peek()
            if joiner.kind == "KEYWORD" and joiner.text in ("and", "or") and self.at("KEYWORD", other, 1):
                self.next()
                self.next()
                return token, f"src {joiner.text} dst"
        return token, token.text

    def special(self) -> Node:
        keyword = self.next()
        word = keyword.text
        if word in _OPTIONAL_NUMBER:
            number = self.number_argument(optional=True)
            return Special(keyword, None, [number] if number else [])
        if word in _NUMBER_ARG:
            return Special(keyword, None, [self.number_argument()])
        if word in _FIELD_ARG:
            return Special(keyword, None, self.field_values())
        if word in _NAME_ARG:
            token = self.next()
            if token.kind not in _VALUE_KINDS:
                self.fail(f"syntax error: {word} needs a name, found {_describe(token)}", token)
            return Special(keyword, None, [token])
        if word in _ALONE:
            return Special(keyword)
        if word == "byte":
            index = self.expect("NUM", what="a byte offset")
            op = self.next()
            if not (op.kind == "OP" and op.text in ("&", "|", "<", ">", "==")):
                self.fail(f"syntax error: byte needs one of & | < > =, found {_describe(op)}", op)
            return Special(keyword, None, [index, op, self.expect("NUM", what="a byte value")])
        if word == "llc":
            follow = self.peek()
            if follow.kind == "ID" or follow.is_("KEYWORD", "rnr"):
                return Special(keyword, None, [self.next()])
            return Special(keyword)
        self.fail(f"syntax error: {word!r} cannot start a primitive here", keyword)
        raise AssertionError("unreachable")

    def number_argument(self, optional: bool = False) -> Token | None:
        depth = 0
        start = self.i
        while self.at("OP", "("):
            self.next()
            depth += 1
        if not self.at("NUM"):
            if optional and depth == 0:
                return None
            if optional:
                self.i = start
                return None
            self.fail(f"syntax error: expected a number, found {_describe(self.peek())}", self.peek())
        number = self.next()
        for _ in range(depth):
            self.expect("OP", ")")
        return number

    def field_values(self) -> list[Token]:
        """A field's values as libpcap's grammar allows them: one number, a comparison
        operator and a number (``[op, num]``), or numbers in parentheses joined by
        ``or`` (any of them matches)."""
        if self.at("OP") and self.peek().text in RELATIONS:
            return [self.next(), self.expect("NUM", what="a number")]
        if self.accept("OP", "("):
            values = [self.expect("NUM", what="a number")]
            while self.accept("KEYWORD", "or"):
                values.append(self.expect("NUM", what="a number"))
            self.expect("OP", ")")
            return values
        return [self.expect("NUM", what="a number")]

    def wlan(self, proto: Token | None) -> Node:
        keyword = self.next()
        args = [self.expect_name(keyword)]
        if keyword.text == "type" and self.at("KEYWORD", "subtype"):
            args.append(self.next())
            args.append(self.expect_name(keyword))
        return Special(keyword, proto, args)

    def expect_name(self, keyword: Token) -> Token:
        token = self.next()
        if token.kind not in ("ID", "NUM") and not (token.kind == "KEYWORD" and token.text in ("ack",)):
            self.fail(f"syntax error: {keyword.text} needs a name or number, found {_describe(token)}", token)
        return token

    # ---- arithmetic -------------------------------------------------------------------
    def relation(self) -> Relation:
        left = self.arith(0)
        op = self.peek()
        if not (op.kind == "OP" and op.text in RELATIONS):
            self.fail(f"syntax error: expected a comparison (> >= == != < <=), found {_describe(op)}", op)
        self.next()
        return Relation(op, left, self.arith(0))

    def arith(self, level: int) -> Arith:
        if level == 0:
            start = self.i
            failure = self.arith_failures.get(start)
            if failure is not None:
                raise failure
            try:
                return self.arith_level(0)
            except FilterError as error:
                self.arith_failures[start] = error
                raise
        return self.arith_level(level)

    def arith_level(self, level: int) -> Arith:
        if level == len(_LEVELS):
            return self.unary()
        left = self.arith_level(level + 1)
        while self.at("OP") and self.peek().text in _LEVELS[level]:
            op = self.next()
            left = Binary(op, left, self.arith_level(level + 1))
        return left

    def unary(self) -> Arith:
        token = self.peek()
        if token.is_("OP", "-"):
            self.next()
            return Negative(token, self.unary())
        if token.is_("OP", "("):
            self.next()
            inner = self.arith(0)
            self.expect("OP", ")")
            return inner
        if token.kind == "NUM":
            return Number(self.next())
        if token.is_("KEYWORD", "len"):
            return Length(self.next())
        if token.kind == "KEYWORD" and token.text in PROTOCOLS:
            proto = self.next()
            self.expect("OP", "[", what="'[' after a protocol in arithmetic")
            index = self.arith(0)
            size = 1
            if self.accept("OP", ":"):
                size_token = self.expect("NUM", what="a data size")
                if size_token.value not in (1, 2, 4):
                    self.fail("data size must be 1, 2, or 4", size_token)
                size = size_token.value
            self.expect("OP", "]")
            return PacketLoad(proto, index, size)
        self.fail(f"syntax error: expected a number, len or proto[offset], found {_describe(token)}", token)
        raise AssertionError("unreachable")
