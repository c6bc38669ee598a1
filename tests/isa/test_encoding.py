"""Encoding and validity of single instructions (RFC 9669 field rules)."""

from __future__ import annotations

import pytest

from pybpf.isa import Instruction, InvalidInstruction, decode, encode
from pybpf.isa import opcodes as o


def test_lddw_takes_two_slots_and_round_trips():
    raw = bytes.fromhex("1800000088776655000000004433221195000000000000000000")[:24]
    prog = decode(raw)
    assert prog == [Instruction(o.LDDW, imm=0x1122334455667788), Instruction(0x95)]
    assert encode(prog) == raw


def test_register_nibbles_and_signed_fields():
    raw = bytes.fromhex("7b1af8ffffffffff")
    with pytest.raises(InvalidInstruction, match="does not use the imm field"):
        decode(raw)
    ins = decode(bytes.fromhex("7b1af8ff00000000"))[0]
    assert (ins.dst, ins.src, ins.off) == (10, 1, -8)


@pytest.mark.parametrize(
    "hexbytes, message",
    [
        ("0700010001000000", "offset 1 is not allowed"),
        ("0710000001000000", "does not use the src field"),
        ("9501000000000000", "does not use the dst field"),
        ("dc10000010000000", "does not use the src field"),
        ("dc00000011000000", "byte swap width"),
        ("8c00000000000000", "neg has no register form"),
        ("0b00000000000000", "not a defined load or store"),
        ("b70b000000000000", "r11 does not exist"),
        ("1800000000000000", "needs a second slot"),
        ("95000000000000", "not a whole number"),
    ],
)
def test_invalid_encodings_name_the_instruction(hexbytes, message):
    with pytest.raises(InvalidInstruction, match=message) as err:
        decode(bytes.fromhex("9500000000000000") + bytes.fromhex(hexbytes))
    assert err.value.index == 1


def test_non_strict_decode_keeps_reserved_fields():
    ins = decode(bytes.fromhex("0700010001000000"), strict=False)[0]
    assert ins.off == 1
    assert encode([ins], strict=False) == bytes.fromhex("0700010001000000")
    with pytest.raises(InvalidInstruction):
        encode([ins])


def test_encode_refuses_fields_that_do_not_fit_even_when_not_strict():
    with pytest.raises(InvalidInstruction, match="signed 16-bit"):
        encode([Instruction(0x05, off=1 << 15)], strict=False)
