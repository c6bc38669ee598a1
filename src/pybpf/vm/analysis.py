"""Static facts about a program that both the JIT and the engine's load-time checks use.

:func:`initialised_registers` is a forward must-analysis: for each instruction, the
registers written on every path that reaches it. The JIT skips run-time checks for them;
the vm engine refuses, as the kernel's verifier does, a program that may read a register
no path has written.
"""

from __future__ import annotations

from collections.abc import Callable

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.isa.helpers import is_poison
from pybpf.vm.program import CheckedProgram


def _transfer(ins: Instruction, before: frozenset[int], callee_sets_r0: bool = False) -> frozenset[int]:
    """The registers surely initialised after ``ins`` given those before it
    (``callee_sets_r0``: a bpf-to-bpf call defines r0, as the kernel's verifier requires
    of every function's exit)."""
    kind, code = ins.cls, o.op(ins.opcode)
    if kind in (o.JMP, o.JMP32):
        if code != o.CALL:
            return before
        if ins.src == o.CALL_PSEUDO and o.source(ins.opcode) == o.K and not callee_sets_r0:
            return before - {0, 1, 2, 3, 4, 5}        # the callee's r0 may be unset
        return (before - {1, 2, 3, 4, 5}) | {0}
    if kind in (o.ALU, o.ALU64, o.LDX) or ins.is_lddw:
        return before | {ins.dst}
    if kind == o.LD:  # legacy packet loads are calls in the kernel: they clobber r1-r5
        return (before - {1, 2, 3, 4, 5}) | {0}
    if kind == o.STX and o.mode(ins.opcode) == o.ATOMIC:
        if ins.imm == o.CMPXCHG:
            return before | {0}
        if ins.imm == o.LOAD_ACQ:
            return before | {ins.dst}
        if ins.imm & o.FETCH:
            return before | {ins.src}
    return before


def must_dataflow(program: CheckedProgram, start: int, end: int, entry: frozenset[int],
                  transfer: Callable[[Instruction, frozenset[int]], frozenset[int]]) -> dict[int, frozenset[int]]:
    """A forward must-analysis over ``[start, end)``: for each reachable instruction, the
    facts true on every path to it, given ``entry`` at ``start`` and ``transfer`` per
    instruction (facts intersect where paths join)."""
    code = program.instructions
    known: dict[int, frozenset[int]] = {start: entry}
    work = [start]
    while work:
        index = work.pop()
        after = transfer(code[index], known[index])
        for nxt in successors(program, index):
            if not start <= nxt < end:
                continue
            merged = after if nxt not in known else known[nxt] & after
            if known.get(nxt) != merged:
                known[nxt] = merged
                work.append(nxt)
    return known


def initialised_registers(program: CheckedProgram, start: int, end: int, entry: frozenset[int],
                          callee_sets_r0: bool = False) -> dict[int, frozenset[int]]:
    """For each reachable instruction in ``[start, end)``, the registers surely written
    before it, given ``entry`` at ``start``."""
    return must_dataflow(program, start, end, entry, lambda ins, before: _transfer(ins, before, callee_sets_r0))


def successors(program: CheckedProgram, index: int) -> list[int]:
    """The instructions control may reach next from ``index`` (calls return to the next,
    except a call poisoned by a failed CO-RE relocation: it stops the program)."""
    ins = program.instructions[index]
    if is_poison(ins):
        return []
    if ins.is_jump:
        target = program.target(index, ins.jump_offset)
        return [target] if o.op(ins.opcode) == o.JA else [target, index + 1]
    return [] if ins.opcode == o.JMP | o.EXIT else [index + 1]


def reads(ins: Instruction) -> tuple[int, ...]:
    """The registers an instruction reads."""
    kind, code, by_reg = ins.cls, o.op(ins.opcode), o.source(ins.opcode) == o.X
    if kind in (o.ALU, o.ALU64):
        if code == o.MOV:
            return (ins.src,) if by_reg else ()
        return (ins.dst, ins.src) if by_reg else (ins.dst,)
    if kind in (o.JMP, o.JMP32):
        if code == o.CALL:
            return (ins.dst,) if by_reg else ()
        if code in (o.EXIT, o.JA):
            return (0,) if code == o.EXIT else ()
        return (ins.dst, ins.src) if by_reg else (ins.dst,)
    if kind == o.LD:  # legacy packet loads read the packet through r6 (the kernel's rule)
        if ins.is_lddw:
            return ()
        return (6, ins.src) if o.mode(ins.opcode) == o.IND else (6,)
    if kind == o.LDX:
        return (ins.src,)
    if kind == o.ST:
        return (ins.dst,)
    return (ins.dst, ins.src, 0) if ins.imm == o.CMPXCHG else (ins.dst, ins.src)
