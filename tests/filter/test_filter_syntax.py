"""The filter language's tokens, grammar and error messages."""

from __future__ import annotations

import pytest

from pybpf.filter import FilterError, compile_filter, parse
from pybpf.filter.lexer import tokenize
from pybpf.filter.syntax import And, Not, Or, Primitive, Protocol, Relation


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(text)[:-1]]


@pytest.mark.parametrize("text, kind", [
    ("tcp", "KEYWORD"), ("tcpx", "ID"), ("1.2.3.4", "HID"), ("10.1", "HID"), ("ab.cd.ef.0.0.1", "EID"),
    ("aa:bb:cc:dd:ee:ff", "EID"), ("aa-bb-cc-dd-ee-ff", "EID"), ("aabb.ccdd.eeff", "EID"), ("aabbccddeeff", "EID"),
    ("fe80::1", "HID6"), ("::ffff:1.2.3.4", "HID6"), ("1:2:3:4:5:6:7:8", "HID6"), ("25-smtp", "ID"),
    ("0x1f", "NUM"), ("017", "NUM"), ("tcp-syn", "NUM"), ("icmp-echo", "NUM"), ("\\ip", "ID"),
])
def test_token_kinds(text, kind):
    [(got, _)] = kinds(text)
    assert got == kind


def test_ethernet_address_pattern_matches_as_written_out():
    """The lexer writes each byte of an Ethernet address once and repeats it (re compiles
    it in a third of the time); it matches what the six bytes written out match."""
    import random
    import re

    from pybpf.filter.lexer import _RULES

    byte, word = "[0-9A-Fa-f][0-9A-Fa-f]?", "[0-9A-Fa-f]{4}"
    written_out = re.compile("|".join([*(sep.join([byte] * 6) for sep in (":", "-", r"\.")),
                                       r"\.".join([word] * 3), "[0-9A-Fa-f]{12}"]))
    repeated = re.compile(dict(_RULES)["EID"])
    rng = random.Random(13)
    for _ in range(20000):
        groups = ["".join(rng.choice("0123456789abcdefABCDEFg") for _ in range(rng.choice((0, 1, 2, 2, 3, 4, 5, 12))))
                  for _ in range(rng.randint(1, 8))]
        text = "".join(group + rng.choice(":::---...x ") for group in groups)[:rng.randint(1, 40)]
        found, expected = repeated.match(text), written_out.match(text)
        assert (found and found.span()) == (expected and expected.span()), text


def test_numbers_and_named_constants():
    assert [t.value for t in tokenize("0x10 010 16 tcpflags tcp-ack icmp6-echo")[:-1]] == [16, 8, 16, 13, 16, 128]
    with pytest.raises(FilterError, match="non-octal"):
        tokenize("09")
    with pytest.raises(FilterError, match="overflows 32 bits"):
        tokenize("0x100000000")


def test_operators_and_spellings():
    assert kinds("a && !b || c") == [("ID", "a"), ("KEYWORD", "and"), ("KEYWORD", "not"), ("ID", "b"),
                                     ("KEYWORD", "or"), ("ID", "c")]
    assert kinds("len = 1")[1] == ("OP", "==")
    assert kinds("length")[0] == ("KEYWORD", "len")


def test_qualifiers_carry_over_to_bare_values():
    tree = parse("tcp dst port 80 or 443 and not 8080")
    assert isinstance(tree, And) and isinstance(tree.left, Or) and isinstance(tree.right, Not)
    for primitive in (tree.left.left, tree.left.right, tree.right.operand):
        assert primitive.qualifiers.proto_name == "tcp" and primitive.qualifiers.type_name == "port"
        assert primitive.qualifiers.dir_text == "dst"


def test_a_keyword_after_and_starts_a_new_primitive():
    tree = parse("host a or tcp or b")
    assert isinstance(tree.left.right, Protocol)
    assert isinstance(tree.right, Primitive) and tree.right.qualifiers.type_name is None


def test_parenthesised_values_and_comparisons():
    assert isinstance(parse("host (a or b)"), Or)
    assert isinstance(parse("(tcp[13] & 2 != 0)"), Relation)
    assert isinstance(parse("(tcp or udp) and (1 + 1 == 2)"), And)
    assert parse("") is None and parse("   ") is None


def test_and_or_share_one_precedence_left_to_right():
    tree = parse("a or b and c")
    assert isinstance(tree, And) and isinstance(tree.left, Or)


@pytest.mark.parametrize("expression, caret, reason", [
    ("tcp port 8o", "^^", "unknown port '8o'"),
    ("host 1.2.3.4 (", "^", "unexpected '('"),
    ("ip[2:3] > 1", "^", "data size must be 1, 2, or 4"),
    ("tcp and", "^", "end of expression"),
    ("src proto 1", "^^^^^", "takes no direction"),
    ("ip[1] / 0 == 1", "^", "division by zero"),
    ("net 10.0.0.1/8", "^^^^^^^^", "non-network bits set"),
    ("vlan 5000", "^^^^", "greater than maximum 4095"),
])
def test_errors_point_at_the_token(expression, caret, reason):
    with pytest.raises(FilterError) as caught:
        compile_filter(expression)
    line, marker, message = str(caught.value).splitlines()
    assert line == expression and reason in message and message.startswith("column ")
    column = int(message.split()[1].rstrip(":"))
    assert marker.index("^") == column - 1 and marker.strip() == caret


def test_errors_in_multi_line_expressions_name_the_line():
    with pytest.raises(FilterError) as caught:
        compile_filter("tcp\nand udp port nosuchservice")
    assert "line 2, column 14" in str(caught.value)


def test_unsupported_link_type_is_named():
    with pytest.raises(FilterError, match="unknown or unsupported link type 'FROB'"):
        compile_filter("ip", linktype="FROB")
    with pytest.raises(FilterError, match="link type 9999 is not one"):
        compile_filter("ip", linktype=9999)
