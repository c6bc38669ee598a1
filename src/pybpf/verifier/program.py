"""The control-flow facts the verifier needs before it simulates anything: slot layout,
functions (bpf-to-bpf call and callback targets), and the kernel's ``check_cfg`` rules —
no jump out of its function, no unreachable instruction, every function ending in exit
or a jump.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable
from functools import cached_property

from pybpf.isa import opcodes as o
from pybpf.isa.instruction import Instruction


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
                # this kernel's prune points: every jump's target, a conditional jump itself
                self.prune_points.add(target)
                if o.op(ins.opcode) != o.JA:
                    self.prune_points.add(index)
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

    def live_registers(self, params: Callable[[int], int]) -> list[int]:
        """For each instruction, the registers (bit ``1 << regno``) whose value there may
        still be read: the kernel's ``compute_live_registers``, a backward data flow
        over each function. Pruning and loop detection compare live registers only.
        ``params(helper)`` is how many argument registers a helper call reads."""
        used, defined = zip(*(_use_def(ins, params) for ins in self.code)) if self.code else ((), ())
        return self._backward(lambda index, after: used[index] | (after & ~defined[index]))

    def precise_registers(self, sinks: dict[int, int]) -> list[int]:
        """For each instruction, the registers whose exact value decides something later:
        those ``sinks`` names (instruction → registers used as a pointer offset, a size, a
        decided comparison, a return value) and, backwards, the registers their values
        were computed from. The kernel finds the same by backtracking each path
        (``mark_chain_precision``); this is its union over paths."""
        flows = [_flow(ins) for ins in self.code]

        def transfer(index: int, after: int) -> int:
            defined, sources = flows[index]
            return (after & ~defined) | (sources if after & defined else 0) | sinks.get(index, 0)
        return self._backward(transfer)

    def _backward(self, transfer: Callable[[int, int], int]) -> list[int]:
        """The fixpoint of a backward data flow of register masks over the control-flow
        graph: each instruction's mask is ``transfer(index, after)``, ``after`` the union of
        its successors' masks (liveness and precision are both such flows)."""
        graph = self.graph
        masks = [0] * len(self.code)
        changed = True
        while changed:
            changed = False
            for index in reversed(range(len(self.code))):
                after = 0
                for nxt in graph[index]:
                    after |= masks[nxt]
                before = transfer(index, after)
                if before != masks[index]:
                    masks[index], changed = before, True
        return masks

    @cached_property
    def graph(self) -> list[list[int]]:
        """Each instruction's successors (after :meth:`check_cfg` found them in range)."""
        return [self.successors(index) for index in range(len(self.code))]

    def successors(self, index: int) -> list[int]:
        ins = self.code[index]
        if ins.opcode == o.JMP | o.EXIT:
            return []
        if ins.is_jump:
            target = self.slot_target(index, ins.jump_offset)
            return [target] if o.op(ins.opcode) == o.JA else [target, index + 1]
        return [index + 1]


_CALLER_SAVED = 0b111111        # r0-r5: a call writes them
_ARGS = 0b111110                # r1-r5


def _flow(ins: Instruction) -> tuple[int, int]:
    """(registers ``ins`` writes, registers their new values are computed from)."""
    dst, src, kind = 1 << ins.dst, 1 << ins.src, ins.cls
    if kind in (o.ALU, o.ALU64):
        op, by_reg = o.op(ins.opcode), o.source(ins.opcode) == o.X
        if op == o.MOV:
            return dst, (src if by_reg else 0)
        return dst, dst | (src if by_reg and op not in (o.NEG, o.END) else 0)
    if ins.is_lddw or kind == o.LDX:
        return dst, 0
    if kind == o.LD or ins.opcode == o.JMP | o.CALL:
        return _CALLER_SAVED, 0
    if kind == o.STX and o.mode(ins.opcode) == o.ATOMIC:
        if ins.imm == o.CMPXCHG:
            return 1, 0
        if ins.imm & o.FETCH:
            return src, 0
        if ins.imm == o.LOAD_ACQ:
            return dst, 0
    return 0, 0


def _use_def(ins: Instruction, params: Callable[[int], int]) -> tuple[int, int]:
    """(registers ``ins`` reads, registers it writes) as bit masks."""
    dst, src, kind = 1 << ins.dst, 1 << ins.src, ins.cls
    by_reg = o.source(ins.opcode) == o.X
    if kind in (o.ALU, o.ALU64):
        op = o.op(ins.opcode)
        if op == o.MOV:
            return (src if by_reg else 0), dst
        if op in (o.NEG, o.END):
            return dst, dst
        return dst | (src if by_reg else 0), dst
    if ins.is_lddw:
        return 0, dst
    if kind == o.LD:                     # legacy packet loads read r6 (and src), clobber r0-r5
        return 1 << 6 | (src if o.mode(ins.opcode) == o.IND else 0), _CALLER_SAVED
    if kind == o.LDX:
        return src, dst
    if kind == o.ST:
        return dst, 0
    if kind == o.STX:
        if o.mode(ins.opcode) != o.ATOMIC or ins.imm == o.STORE_REL:
            return dst | src, 0
        if ins.imm == o.LOAD_ACQ:
            return src, dst
        if ins.imm == o.CMPXCHG:
            return dst | src | 1, 1
        return dst | src, (src if ins.imm & o.FETCH else 0)
    op = o.op(ins.opcode)
    if op == o.EXIT:
        return 1, 0
    if op == o.CALL:
        count = params(ins.imm) if ins.src == o.CALL_HELPER else 5
        return _ARGS & ((1 << (count + 1)) - 1), _CALLER_SAVED
    if op in (o.JA, o.JCOND) or not ins.is_jump:
        return 0, 0
    return dst | (src if by_reg else 0), 0
