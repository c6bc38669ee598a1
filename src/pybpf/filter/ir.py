"""The filter compiler's intermediate form: a control-flow graph of blocks, each a run of
straight-line classic BPF statements ended by one test (or a return), as in the 1993
paper's figure of ``host foo`` as a graph of tests.

Code generation builds :class:`Fragment` objects — a head block plus the still-open
edges taken when the fragment's predicate is true or false — and combines them with
``and``/``or``/``not`` by patching open edges, never by copying code. The optimizer works
on the finished graph; :func:`emit` lays it out as a linear program with relative jumps.
"""

from __future__ import annotations

import itertools

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

_ids = itertools.count()


class Block:
    """Statements (non-jump instructions) then either a conditional jump on A
    (``code``/``k``, to ``jt``/``jf``), an unconditional move to ``jt`` (``code`` is
    JA), or a return (``code`` is RET, ``jt``/``jf`` None)."""

    __slots__ = ("stmts", "code", "k", "jt", "jf", "id", "pinned")

    def __init__(self, stmts: list[Instruction], code: int, k: int = 0,
                 jt: Block | None = None, jf: Block | None = None):
        self.stmts = stmts
        self.code = code
        self.k = k
        self.jt = jt
        self.jf = jf
        self.id = next(_ids)
        #: statements the optimizer must keep though nothing reads their results (see
        #: pybpf.filter.optimizer: those that fed the root's test before it was decided)
        self.pinned: list[Instruction] = []

    @property
    def is_return(self) -> bool:
        return self.code & 0x07 == c.RET       # c.cls(code), inline: the optimizer asks millions of times

    @property
    def is_goto(self) -> bool:
        return self.code == c.JMP | c.JA

    def successors(self) -> list[Block]:
        if self.is_return:
            return []
        if self.is_goto:
            return [self.jt]
        return [self.jt, self.jf]

    def __repr__(self) -> str:
        return f"<block {self.id} {len(self.stmts)} stmts code={self.code:#x} k={self.k:#x}>"


Exit = tuple[Block, str]   # (block, "jt" | "jf"): an edge still to be connected


@dataclass
class Fragment:
    """A predicate under construction: control enters at ``head``; the edges in ``true``
    are taken when the predicate holds, those in ``false`` when it does not."""

    head: Block
    true: list[Exit] = field(default_factory=list)
    false: list[Exit] = field(default_factory=list)
    #: True/False when the predicate's outcome is known at compile time
    const: bool | None = None


def patch(exits: list[Exit], target: Block) -> None:
    for block, attr in exits:
        setattr(block, attr, target)


def test(stmts: list[Instruction], code: int, k: int) -> Fragment:
    """One block: run ``stmts``, then a conditional jump; true/false are its two edges."""
    block = Block(list(stmts), c.JMP | code, k & 0xFFFF_FFFF)
    return Fragment(block, [(block, "jt")], [(block, "jf")])


def both(first: Fragment, second: Fragment) -> Fragment:
    """``first and second``: second runs only where first held. A constant side is
    reduced away as libpcap does, so ``x and false`` never evaluates x (nor loads the
    packet bytes x would: a short packet is not rejected by a test that cannot matter)."""
    if first.const is False or second.const is True:
        return first
    if second.const is False or first.const is True:
        return second
    patch(first.true, second.head)
    return Fragment(first.head, second.true, first.false + second.false)


def either(first: Fragment, second: Fragment) -> Fragment:
    """``first or second``: second runs only where first failed (constants reduced)."""
    if first.const is True or second.const is False:
        return first
    if second.const is True or first.const is False:
        return second
    patch(first.false, second.head)
    return Fragment(first.head, first.true + second.true, second.false)


def negate(fragment: Fragment) -> Fragment:
    const = None if fragment.const is None else not fragment.const
    return Fragment(fragment.head, fragment.false, fragment.true, const)


def always(value: bool) -> Fragment:
    """A predicate with a constant outcome: a move whose single open edge is it."""
    block = Block([], c.JMP | c.JA)
    edge = [(block, "jt")]
    return Fragment(block, edge, [], True) if value else Fragment(block, [], edge, False)


def finish(fragment: Fragment, accept: int) -> Block:
    """Close the graph: true edges return ``accept``, false edges return 0."""
    yes = Block([], c.RET | c.K, accept)
    no = Block([], c.RET | c.K, 0)
    patch(fragment.true, yes)
    patch(fragment.false, no)
    return fragment.head


def blocks_in_order(root: Block) -> list[Block]:
    """Every reachable block, in an order where each jump goes forward — except the
    moves that close a loop — and a block's true successor tends to follow it."""
    order: list[Block] = []
    seen: set[int] = set()
    stack: list[tuple[Block, bool]] = [(root, False)]
    while stack:
        block, done = stack.pop()
        if done:
            order.append(block)
            continue
        if block.id in seen:
            continue
        seen.add(block.id)
        stack.append((block, True))
        # post-order with the true successor finished last, so it lands right after
        for succ in block.successors():
            if succ.id not in seen:
                stack.append((succ, False))
    order.reverse()
    return order


def emit(root: Block) -> list[Instruction]:
    """The linear program: blocks in :func:`blocks_in_order`, a ``ja`` where a goto's
    target does not follow, and a ``ja`` trampoline after any conditional jump whose
    target lies more than 255 instructions ahead."""
    order = blocks_in_order(root)
    # trampolines[block.id] = which of jt/jf go through a ja placed after the block
    trampolines: dict[int, list[str]] = {}
    while True:
        layout = _layout(order, trampolines)
        far = _far_jumps(order, layout, trampolines)
        if not far:
            break
        for block_id, attr in far:
            trampolines.setdefault(block_id, []).append(attr)
    return _instructions(order, layout, trampolines)


def _length(block: Block, trampolines: dict[int, list[str]], next_block: Block | None) -> int:
    if block.is_return:
        return len(block.stmts) + 1
    if block.is_goto:
        return len(block.stmts) + (0 if block.jt is next_block else 1)
    return len(block.stmts) + 1 + len(trampolines.get(block.id, ()))


def _layout(order: list[Block], trampolines: dict[int, list[str]]) -> dict[int, int]:
    """block id -> index of its first instruction; the end of the test is at
    start + len(stmts)."""
    layout = {}
    pc = 0
    for i, block in enumerate(order):
        layout[block.id] = pc
        pc += _length(block, trampolines, order[i + 1] if i + 1 < len(order) else None)
    return layout


def _far_jumps(order, layout, trampolines) -> list[tuple[int, str]]:
    far = []
    for block in order:
        if block.is_return or block.is_goto:
            continue
        test_pc = layout[block.id] + len(block.stmts)
        through = trampolines.get(block.id, [])
        for attr in ("jt", "jf"):
            if attr not in through and layout[getattr(block, attr).id] - test_pc - 1 > 255:
                far.append((block.id, attr))
    return far


def _instructions(order, layout, trampolines) -> list[Instruction]:
    out: list[Instruction] = []
    for i, block in enumerate(order):
        out.extend(block.stmts)
        pc = len(out)
        if block.is_return:
            out.append(Instruction(block.code, 0, 0, block.k))
            continue
        if block.is_goto:
            following = order[i + 1] if i + 1 < len(order) else None
            if block.jt is not following:      # backward only in loops (protochain), as 32-bit wrap-around
                out.append(Instruction(c.JMP | c.JA, 0, 0, (layout[block.jt.id] - pc - 1) & 0xFFFF_FFFF))
            continue
        through = trampolines.get(block.id, [])
        offsets = {}
        for attr in ("jt", "jf"):
            if attr in through:
                offsets[attr] = through.index(attr)
            else:
                offsets[attr] = layout[getattr(block, attr).id] - pc - 1
        out.append(Instruction(block.code, offsets["jt"], offsets["jf"], block.k))
        for n, attr in enumerate(through):
            here = pc + 1 + n
            out.append(Instruction(c.JMP | c.JA, 0, 0, layout[getattr(block, attr).id] - here - 1))
    return out
