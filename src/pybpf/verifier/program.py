"""The control-flow facts the verifier needs before it simulates anything: slot layout,
functions (bpf-to-bpf call and callback targets), and the kernel's ``check_cfg`` rules —
no jump out of its function, no unreachable instruction, every function ending in exit
or a jump.
"""

from __future__ import annotations

import errno as _errno

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o


class Refused(Exception):
    """The program is unsafe: the kernel's ``message`` for instruction ``index`` and the
    errno its ``BPF_PROG_LOAD`` fails with (EACCES for an unsafe access, EINVAL for a
    malformed program or a broken contract such as a leaked reference, E2BIG for a
    program or call chain too large, EBADF for a bad map fd)."""

    def __init__(self, message: str, index: int | None, why: str = "", errno: int = _errno.EACCES):
        super().__init__(message)
        self.message, self.index, self.why, self.errno = message, index, why, errno


class Layout:
    """Instructions with slot numbers, jump targets and function boundaries."""

    def __init__(self, instructions: list[Instruction]):
        self.code = instructions
        self.slots: list[int] = []
        slot = 0
        for ins in instructions:
            self.slots.append(slot)
            slot += ins.slots
        self.index_of_slot = {s: i for i, s in enumerate(self.slots)}
        self.end_slot = slot
        starts = {0}
        for i, ins in enumerate(instructions):
            target = self._callee(i, ins)
            if target is not None:
                starts.add(target)
        self.starts = sorted(starts)
        #: instruction index → index of the function containing it
        self.function_of = []
        current = 0
        for i in range(len(instructions)):
            if current + 1 < len(self.starts) and i >= self.starts[current + 1]:
                current += 1
            self.function_of.append(self.starts[current])
        self.prune_points: set[int] = set()

    def slot_target(self, index: int, relative: int) -> int | None:
        return self.index_of_slot.get(self.slots[index] + 1 + relative)

    def _callee(self, index: int, ins: Instruction) -> int | None:
        """The function a pseudo call or a callback address names (None otherwise)."""
        if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO:
            relative = ins.imm
        elif ins.is_lddw and ins.src == o.PSEUDO_FUNC:
            relative = ((ins.imm & 0xFFFF_FFFF) ^ 0x8000_0000) - 0x8000_0000
        else:
            return None
        target = self.slot_target(index, relative)
        if target is None:
            raise Refused(f"function at insn {self.slots[index] + 1 + relative} is not an instruction boundary",
                          index, errno=_errno.EINVAL)
        return target

    def check_cfg(self) -> None:
        """The kernel's structural checks: jumps in range, no unreachable code."""
        code = self.code
        for index, ins in enumerate(code):
            if ins.is_jump:
                target = self.slot_target(index, ins.jump_offset)
                landing = self.slots[index] + 1 + ins.jump_offset
                if target is None or self.function_of[target] != self.function_of[index]:
                    raise Refused(f"jump out of range from insn {self.slots[index]} to {landing}", index,
                                  errno=_errno.EINVAL)
                self.prune_points.add(target)
                if o.op(ins.opcode) != o.JA:
                    self.prune_points.add(index + 1)
            ends = index + 1 == len(code) or index + 1 in self.starts[1:]
            if ends and not (ins.opcode == o.JMP | o.EXIT or (ins.is_jump and o.op(ins.opcode) == o.JA)):
                raise Refused("last insn is not an exit or jmp", index, errno=_errno.EINVAL)
        seen = [False] * len(code)
        work = list(self.starts)
        for start in self.starts:
            seen[start] = True
        while work:
            index = work.pop()
            for nxt in self.successors(index):
                if not seen[nxt]:
                    seen[nxt] = True
                    work.append(nxt)
        for index, reached in enumerate(seen):
            if not reached:
                raise Refused(f"unreachable insn {self.slots[index]}", index, errno=_errno.EINVAL)

    def successors(self, index: int) -> list[int]:
        ins = self.code[index]
        if ins.opcode == o.JMP | o.EXIT:
            return []
        if ins.is_jump:
            target = self.slot_target(index, ins.jump_offset)
            return [target] if o.op(ins.opcode) == o.JA else [target, index + 1]
        return [index + 1]
