"""Tokens of pcap-filter(7), split as libpcap's scanner splits them: at each point the
longest match wins, and on a tie the earlier kind (keyword, number, address) beats a
plain name — so ``tcp`` is a keyword, ``tcpx`` a name, ``1.2.3.4`` an IPv4 address,
``ab.cd.ef.0.0.1`` a MAC address and ``25-smtp`` one name (a port range).
"""

from __future__ import annotations

import re

from pybpf.filter.errors import FilterError
from pybpf.filter.names import NAMED_NUMBERS

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

KEYWORDS = {
    "dst", "src", "host", "gateway", "net", "mask", "port", "portrange", "proto", "protochain",
    "link", "ether", "ppp", "slip", "fddi", "tr", "wlan", "ip", "ip6", "arp", "rarp", "sctp", "tcp", "udp",
    "icmp", "igmp", "igrp", "pim", "vrrp", "carp", "radio", "icmp6", "ah", "esp", "atalk", "aarp", "decnet",
    "lat", "sca", "moprc", "mopdl", "iso", "esis", "isis", "l1", "l2", "iih", "lsp", "snp",
    "csnp", "psnp", "clnp", "stp", "ipx", "netbeui", "broadcast", "multicast", "less", "greater", "byte",
    "and", "or", "not", "len", "inbound", "outbound", "ifindex", "vlan", "mpls", "pppoed", "pppoes",
    "geneve", "vxlan", "lane", "llc", "metac", "bcc", "oam", "oamf4", "oamf4ec", "oamf4sc", "sc",
    "ilmic", "vpi", "vci", "connectmsg", "metaconnect", "on", "ifname", "rnr", "rulenum", "reason", "rset",
    "srnr", "subrulenum", "action", "fisu", "lssu", "lsu", "msu", "sio", "opc", "dpc", "sls", "hfisu",
    "hlssu", "hmsu", "hsio", "hopc", "hdpc", "hsls", "type", "subtype", "direction", "dir", "address1",
    "addr1", "address2", "addr2", "address3", "addr3", "address4", "addr4", "ra", "ta",
}
#: spellings that mean the same keyword
ALIASES = {"netmask": "mask", "es-is": "esis", "is-is": "isis", "direction": "dir", "address1": "addr1",
           "address2": "addr2", "address3": "addr3", "address4": "addr4", "subrulenum": "srnr",
           "rulenum": "rnr", "ruleset": "rset", "lsu": "lssu", "on": "ifname", "length": "len", "&&": "and", "||": "or", "!": "not", "=": "=="}

# (each byte written once and repeated, ``B(?::B){5}`` rather than ``B:B:B:B:B:B``: the
# same matches, and re compiles a third of the character classes, 1.0 -> 0.3 ms of every
# compilation's start)
_B = "[0-9A-Fa-f]{1,2}"
_B2 = "[0-9A-Fa-f]{4}"
_RULES = [  # (kind, pattern), in tie-break order: libpcap's scanner lists MAC addresses
    # before numbers, so `001122334455` and `0011.2233.4455` are Ethernet addresses
    ("KEYWORD", None),
    ("EID", rf"{_B}(?::{_B}){{5}}|{_B}(?:-{_B}){{5}}|{_B}(?:\.{_B}){{5}}|{_B2}(?:\.{_B2}){{2}}|[0-9A-Fa-f]{{12}}"),
    ("NUM", r"0[xX][0-9A-Fa-f]+|[0-9]+"),
    ("HID", r"[0-9]+\.[0-9]+(?:\.[0-9]+(?:\.[0-9]+)?)?"),
    ("HID6", r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*"),
    ("AID", r"\$[0-9A-Fa-f][0-9A-Fa-f]?"),          # a one-byte link address (ARCnet, MS/TP)
    ("ID", r"[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?|\\[^ !()\n\t]+"),
    ("OP", r">=|<=|!=|==|&&|\|\||<<|>>|[=<>+\-*/%&|^!\[\]():]"),
]
_COMPILED = [(kind, re.compile(p)) for kind, p in _RULES if p]
_KEYWORD_TEXT = re.compile(r"[A-Za-z0-9][-A-Za-z0-9]*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    kind: str          # KEYWORD, NUM, HID, HID6, EID, AID, ID, OP, END
    text: str          # as written (keywords and operators: their canonical spelling)
    pos: int           # offset in the expression
    value: int = 0     # NUM's and AID's value
    length: int = 0    # characters in the expression

    def is_(self, kind: str, text: str | None = None) -> bool:
        return self.kind == kind and (text is None or self.text == text)


def _number(text: str, expression: str, pos: int) -> int:
    if text[:2] in ("0x", "0X"):
        value = int(text, 16)
    elif len(text) > 1 and text[0] == "0":
        if not set(text) <= set("01234567"):
            raise FilterError(f"number {text} contains non-octal digit", expression, pos, len(text))
        value = int(text, 8)
    else:
        value = int(text)
    if value > 0xFFFF_FFFF:
        raise FilterError(f"number {text} overflows 32 bits", expression, pos, len(text))
    return value


def tokenize(expression: str) -> list[Token]:
    tokens = []
    pos = 0
    end = len(expression)
    while True:
        space = _SPACE.match(expression, pos)
        if space:
            pos = space.end()
        if pos >= end:
            tokens.append(Token("END", "", pos))
            return tokens
        tokens.append(_token(expression, pos))
        pos += tokens[-1].length


def _token(expression: str, pos: int) -> Token:
    best: tuple[int, str] | None = None
    word = _KEYWORD_TEXT.match(expression, pos)
    if word and (word.group().lower() in KEYWORDS or word.group().lower() in ALIASES):
        best = (len(word.group()), "KEYWORD")
    for kind, pattern in _COMPILED:
        m = pattern.match(expression, pos)
        if m and m.end() > pos and (best is None or m.end() - pos > best[0]):
            if kind == "HID6" and not _is_ipv6(m.group()):
                continue
            best = (m.end() - pos, kind)
    if best is None:
        raise FilterError(f"unexpected character {expression[pos]!r}", expression, pos)
    length, kind = best
    text = expression[pos:pos + length]
    if kind == "KEYWORD":
        name = text.lower()
        return Token("KEYWORD", ALIASES.get(name, name), pos, length=length)
    if kind == "OP":
        if text in ("&&", "||", "!"):
            return Token("KEYWORD", ALIASES[text], pos, length=length)
        return Token("OP", ALIASES.get(text, text), pos, length=length)
    if kind == "NUM":
        return Token("NUM", text, pos, _number(text, expression, pos), length)
    if kind == "AID":
        return Token("AID", text, pos, int(text[1:], 16), length)
    if kind == "ID" and text.lower() in NAMED_NUMBERS:
        return Token("NUM", text, pos, NAMED_NUMBERS[text.lower()], length)
    if kind == "ID" and text.startswith("\\"):
        return Token("ID", text[1:], pos, length=length)
    if kind == "KEYWORD":
        return Token(kind, text.lower(), pos, length=length)
    return Token(kind, text, pos, length=length)


def _is_ipv6(text: str) -> bool:
    import ipaddress  # (for IPv6 addresses only: ~1.5 ms of a start-up)

    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
