"""A program checked for what would make it unrunnable, before it runs.

The checks are the structural ones every eBPF loader makes: valid encodings, jumps and
calls that land on an instruction inside the program (never in the middle of an lddw),
no fall-through off the end, helper ids this engine implements, no map references
without maps. They are exact — a correct program is never refused here; what depends on
values (memory bounds, uninitialised registers) is checked as the program runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pybpf.isa import InvalidInstruction, decode, problem
from pybpf.isa import opcodes as o
from pybpf.isa.helpers import helper_name
from pybpf.isa.instruction import Instruction
from pybpf.vm.errors import VMError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


class CheckedProgram:
    """Validated instructions with their slot layout (messages use slot numbers, as the
    kernel's verifier does)."""

    def __init__(self, program: bytes | Sequence[Instruction], helpers: Mapping[int, object] | None = None,
                 maps: dict[int, Any] | None = None):
        #: vm maps by id, which lddw map references (already relocated to ids) name
        self.maps = maps or {}
        if isinstance(program, (bytes, bytearray, memoryview)):
            try:
                instructions = decode(bytes(program))
            except InvalidInstruction as exc:
                raise VMError(exc.reason, exc.index) from None
        else:
            instructions = list(program)
        if not instructions:
            raise VMError("the program is empty: it needs at least an exit instruction")
        self.instructions: list[Instruction] = instructions
        self.slots: list[int] = []
        slot = 0
        for ins in instructions:
            self.slots.append(slot)
            slot += ins.slots
        self.index_of_slot = {s: i for i, s in enumerate(self.slots)}
        #: whether the program calls a helper (call or callx): one that calls none is
        #: checked and run without importing the helper registry (~2 ms of a start-up)
        self.calls_helpers = False
        self._check(helpers)

    def target(self, index: int, relative: int) -> int:
        """The instruction index ``relative`` slots after instruction ``index``'s next slot."""
        return self.index_of_slot[self.slots[index] + 1 + relative]

    def _check(self, helpers: Mapping[int, object] | None) -> None:
        """Refuse what no run could execute; ``helpers`` (None: the registry,
        :data:`pybpf.vm.helpers.HELPERS`, imported at the first helper call) are the
        helper ids the program may call."""
        last = len(self.instructions) - 1
        for index, ins in enumerate(self.instructions):
            slot = self.slots[index]
            reason = problem(ins)
            if reason is not None:
                raise VMError(reason, slot)
            if ins.opcode == o.JMP | o.JCOND:
                raise VMError("may_goto: the vm engine does not run it (the kernel engine does)", slot)
            if ins.is_jump or (ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO):
                relative = ins.jump_offset if ins.is_jump else ins.imm
                landing = slot + 1 + relative
                if landing not in self.index_of_slot:
                    where = "outside the program" if not 0 <= landing < self.slots[-1] + self.instructions[-1].slots \
                        else "into the middle of an lddw"
                    kind = "call" if not ins.is_jump else "jump"
                    raise VMError(f"{kind} to slot {landing} lands {where}", slot)
            elif ins.opcode == o.JMP | o.CALL | o.X:     # callx: a helper whose id is in a register
                self.calls_helpers = True
            elif ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_HELPER:
                self.calls_helpers = True
                if helpers is None:
                    from pybpf.vm.helpers import HELPERS

                    helpers = HELPERS
                if ins.imm not in helpers:
                    name = helper_name(ins.imm)
                    what = (f"helper {ins.imm} ({name}), which the vm engine does not implement" if name
                            else f"unknown helper id {ins.imm}")
                    raise VMError(f"call to {what}", slot)
            elif ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_KFUNC:
                raise VMError(f"kfunc call (BTF id {ins.imm}): kernel functions exist only in the kernel engine", slot)
            elif ins.is_lddw and ins.src in (o.PSEUDO_MAP_FD, o.PSEUDO_MAP_VALUE):
                if (ins.imm & 0xFFFF_FFFF) not in self.maps:
                    raise VMError("the program refers to a map (lddw with a pseudo source) but was loaded without "
                                  "it: load it with its maps through pybpf.load(..., engine='vm')", slot)
            elif ins.is_lddw and ins.src not in (o.PSEUDO_IMM64, o.PSEUDO_FUNC):
                raise VMError(f"lddw pseudo source {ins.src} (BTF ids, map indexes) is resolved by a loader "
                              "before the vm runs a program", slot)
            elif ins.is_lddw and ins.src == o.PSEUDO_FUNC:
                landing = slot + 1 + ((ins.imm & 0xFFFF_FFFF) ^ 0x8000_0000) - 0x8000_0000
                if landing not in self.index_of_slot:
                    raise VMError(f"callback address slot {landing} is not an instruction of the program", slot)
        final = self.instructions[last]
        if not (final.opcode == o.JMP | o.EXIT or (o.op(final.opcode) == o.JA and final.cls in (o.JMP, o.JMP32))):
            raise VMError("the last instruction can fall off the end of the program (it must be exit or goto)",
                          self.slots[last])


def map_value_references(program: CheckedProgram) -> list[int]:
    """The instructions that load a map value's address (``lddw`` with
    BPF_PSEUDO_MAP_VALUE: global data), in program order — the order a run maps them in."""
    found: list[int] | None = program.__dict__.get("_map_value_references")
    if found is None:
        code: list[Any] = program.instructions
        found = program.__dict__["_map_value_references"] = [
            index for index, ins in enumerate(code) if ins.is_lddw and ins.src == o.PSEUDO_MAP_VALUE]
    return found


def map_value_address(program: CheckedProgram, index: int, memory: Any, cpu: int) -> int:
    """Map the value instruction ``index`` refers to (element 0 of an array map, as global
    data is) into a run's ``memory``; the address the instruction loads."""
    imm: int = program.instructions[index].imm
    maps: dict[int, Any] = program.maps
    buffer = maps[imm & 0xFFFF_FFFF].value_buffer(bytes(4), cpu)
    return int(memory.map(buffer, writable=True, name=f"map {imm & 0xFFFF_FFFF} value")) + (imm >> 32)
