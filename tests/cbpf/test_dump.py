"""tcpdump -d text: every expected listing in libpcap's own tests (tests/data) reads back
into instructions and prints again byte for byte; -dd/-ddd forms; malformed text."""

from __future__ import annotations

import json

import pytest

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.dump import dump, parse_dump
from pybpf.cbpf.instruction import CbpfError, Instruction
from shared_data import shared_path


def test_every_libpcap_listing_round_trips():
    checked = 0
    for line in shared_path("libpcap-tests", "accept.jsonl").read_text().splitlines():
        case = json.loads(line)
        expected = case["expected"]
        if not expected:
            continue
        program = parse_dump(expected)
        assert dump(program, annotate="; 0x" in expected).rstrip("\n") == expected.rstrip("\n"), case["label"]
        checked += 1
    assert checked > 4000


def test_dd_and_ddd_forms():
    program = [Instruction(c.LD | c.H | c.ABS, 0, 0, 12), Instruction(c.JMP | c.JEQ | c.K, 0, 1, 0x800),
               Instruction(c.RET | c.K, 0, 0, 262144), Instruction(c.RET | c.K, 0, 0, 0)]
    assert dump(program, "dd").splitlines()[1] == "{ 0x15, 0, 1, 0x00000800 },"
    assert dump(program, "ddd").splitlines()[:2] == ["4", "40 0 0 12"]
    assert parse_dump(dump(program, "ddd")) == program == parse_dump(dump(program))
    assert dump(program).splitlines()[1] == "(001) jeq      #0x800           jt 2\tjf 3"


@pytest.mark.parametrize("text, why", [
    ("(000) frob #1", "unknown instruction 'frob'"),
    ("(001) ret #0", "out of order"),
    ("hello", "not a tcpdump -d line"),
    ("(000) jeq #1", "needs 'jt N jf M'"),
    ("2\n6 0 0 0", "says 2 instructions but has 1"),
])
def test_malformed_text(text, why):
    with pytest.raises(CbpfError, match=why):
        parse_dump(text)


def test_unknown_style():
    with pytest.raises(CbpfError, match="unknown dump style"):
        dump([], "dddd")
