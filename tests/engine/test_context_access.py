"""Which context fields each program type may read and write: every field of
``__sk_buff`` and ``xdp_md``, read and written, accepted or refused the same way on every
engine (the kernel's verifier is the reference where it runs)."""

from __future__ import annotations

import pytest

from pybpf.engine import BPFError, load
from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.object import ProgramSpec
from pybpf.verifier.context import RULES

CASES = [(kind, name, write) for kind, rules in RULES.items() for name in rules.fields for write in (False, True)]


def _accepted(engine: str, kind, name: str, write: bool) -> bool:
    offset, width = RULES[kind].fields[name]
    size = o.W if width == 4 else o.DW
    access = ([Instruction(o.ALU64 | o.MOV | o.K, 2), Instruction(o.STX | o.MEM | size, 1, 2, offset)] if write
              else [Instruction(o.LDX | o.MEM | size, 2, 1, offset)])
    code = access + [Instruction(o.ALU64 | o.MOV | o.K, 0), Instruction(o.JMP | o.EXIT)]
    try:
        load(ProgramSpec("ctx", kind, code), engine=engine).close()
    except BPFError as exc:
        assert "bpf_context" in str(exc) or exc.errno, exc
        return False
    return True


@pytest.mark.parametrize("kind, name, write", CASES, ids=[f"{k}-{n}-{'w' if w else 'r'}" for k, n, w in CASES])
def test_vm_agrees_with_the_kernel(kind, name, write):
    from pybpf.kernel.engine import available

    if available() is not None:
        pytest.skip(f"the kernel engine cannot run here: {available()}")
    assert _accepted("vm", kind, name, write) == _accepted("kernel", kind, name, write)


def test_vm_refusal_names_the_field():
    with pytest.raises(BPFError, match=r"invalid bpf_context access off=76 size=4: __sk_buff read \(data is not "
                                       r"readable for socket_filter programs\)"):
        load(ProgramSpec("ctx", "socket_filter", [Instruction(o.LDX | o.MEM | o.W, 2, 1, 76),
                                                  Instruction(o.ALU64 | o.MOV | o.K, 0), Instruction(o.JMP | o.EXIT)]),
             engine="vm")
