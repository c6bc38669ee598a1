"""OpenBSD pf's log header (DLT_PFLOG) fields in filters: ``ifname``/``on``,
``ruleset``, ``rulenum``, ``subrulenum``, ``reason``, ``action``, and the direction
for ``inbound``/``outbound``.

Offsets are those of ``struct pfloghdr``; the reason and action names are the ones the
BSDs' pf uses (where two BSDs gave one number different names, both are accepted).
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.filter import ir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.lexer import Token

ACTION, REASON, IFNAME, RULESET, RULENR, SUBRULENR, DIRECTION = 2, 3, 4, 20, 36, 40, 60
NAME_SIZE = 16
PF_IN, PF_OUT = 1, 2
REASONS = {"match": 0, "bad-offset": 1, "fragment": 2, "short": 3, "normalize": 4, "memory": 5,
           "bad-timestamp": 6, "congestion": 7, "ip-option": 8, "proto-cksum": 9, "state-mismatch": 10,
           "state-insert": 11, "state-limit": 12, "src-limit": 13, "synproxy": 14, "map-failed": 15,
           "state-locked": 15, "translate": 15, "dummynet": 15, "no-route": 16}
ACTIONS = {"pass": 0, "accept": 0, "block": 1, "drop": 1, "scrub": 2, "noscrub": 3, "nat": 4, "nonat": 5,
           "binat": 6, "nobinat": 7, "rdr": 8, "nordr": 9, "synproxy-drop": 10, "defer": 11, "dummynet": 11,
           "match": 12, "nodummynet": 12, "divert": 13, "nat64": 13, "rt": 14, "nonat64": 14, "afrt": 15}


def field(gen: Generator, keyword: Token, argument: Token) -> ir.Fragment:
    word = keyword.text
    if gen.style != "pflog":
        raise gen.error(f"'{word}' supported only on PFLOG linktype", keyword)
    if word in ("ifname", "rset"):
        name = argument.text.encode()
        if len(name) >= NAME_SIZE:
            raise gen.error(f"{'interface' if word == 'ifname' else 'ruleset'} name '{argument.text}' is longer "
                            f"than {NAME_SIZE - 1} characters", argument)
        return gen.bytes_equal(IFNAME if word == "ifname" else RULESET, name)
    if word in ("rnr", "srnr"):
        return gen.cmp(RULENR if word == "rnr" else SUBRULENR, c.W, argument.value)
    names = REASONS if word == "reason" else ACTIONS
    if argument.kind == "NUM":
        value = argument.value
        if value > 255:
            raise gen.error(f"{word} {value} greater than maximum 255", argument)
    elif argument.text.lower() in names:
        value = names[argument.text.lower()]
    else:
        raise gen.error(f"unknown PF {word} '{argument.text}'", argument)
    return gen.cmp(REASON if word == "reason" else ACTION, c.B, value)


def direction(gen: Generator, outbound: bool) -> ir.Fragment:
    return gen.cmp(DIRECTION, c.B, PF_OUT if outbound else PF_IN)
