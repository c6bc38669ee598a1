"""Instruction is written out rather than made by ``@dataclass`` (start-up: see its
docstring), and still behaves as the frozen, slotted dataclass it was."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from pybpf.isa import Instruction


def test_value_semantics():
    ins = Instruction(0xB7, 1, imm=5)
    assert ins == Instruction(0xB7, dst=1, src=0, off=0, imm=5) and hash(ins) == hash(Instruction(0xB7, 1, 0, 0, 5))
    assert ins != Instruction(0xB7, 1) and ins != (0xB7, 1, 0, 0, 5)
    assert repr(ins) == "Instruction(opcode=183, dst=1, src=0, off=0, imm=5)"
    assert copy.copy(ins) == ins == pickle.loads(pickle.dumps(ins)) == copy.deepcopy(ins)
    assert not hasattr(ins, "__dict__")
    match ins:
        case Instruction(0xB7, dst, imm=imm):
            assert (dst, imm) == (1, 5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        Instruction(1, bogus=2)  # type: ignore[call-arg]


def test_frozen():
    ins = Instruction(0x95)
    for assignment in ("ins.imm = 3", "del ins.imm", "ins.other = 1"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            exec(assignment)
    assert ins == Instruction(0x95)


def test_still_a_dataclass_to_dataclasses():
    ins = Instruction(0xB7, 1, imm=5)
    assert dataclasses.is_dataclass(ins) and dataclasses.is_dataclass(Instruction)
    assert [f.name for f in dataclasses.fields(ins)] == ["opcode", "dst", "src", "off", "imm"]
    assert dataclasses.asdict(ins) == {"opcode": 0xB7, "dst": 1, "src": 0, "off": 0, "imm": 5}
    assert dataclasses.astuple(ins) == (0xB7, 1, 0, 0, 5)
    assert dataclasses.replace(ins, imm=7) == ins.replace(imm=7) == Instruction(0xB7, 1, imm=7)
    with pytest.raises(TypeError):
        ins.replace(bogus=1)
