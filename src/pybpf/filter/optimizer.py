"""The filter optimizer: the graph of tests made small, as the 1993 paper's optimizer
does, by reasoning about the values registers hold.

Every value a program computes gets a number (value numbering): two loads of ``[12]``
are the same value, as are ``4*([14]&0xf)`` computed twice. Walking the graph in
order, the optimizer knows on entry to each block which values A, X and M[] hold on
every path in, and which test outcomes hold on every path in (``[12] == 0x800`` was
true), including membership (each path in left ``[23]`` equal to 6, 17 or 132). With
that it

- drops statements that recompute what a register already holds, folds constants and
  algebraic identities (``and #0``, ``add #0``) and turns ``op x`` into ``op #k`` when X
  is a known constant;
- decides tests whose outcome is already known, turning them into plain moves;
- threads jumps: an edge into a block whose test is decided on that edge goes on along
  the decided tests, to the furthest block whose live registers still hold what the
  edge left; at a test left open whose value is one of a few constants, each constant
  is followed on its own and the edge goes where they all end; an edge into a block
  that only reloads what A holds enters a shared statement-less copy of its test;
- pulls the later tests of an or/and chain that test the value an edge left in A up to
  the run of tests of that value at the chain's front (libpcap's or_pullup/and_pullup);
- turns ``and #m; jeq #0`` into ``jset #m`` where the masked value is not needed after;
- removes statements whose results nothing reads (as libpcap's optimizer does, this
  includes packet loads, so a short packet may pass a filter that never needed its
  bytes), merges identical blocks and bypasses empty moves;

and repeats until nothing changes. As libpcap's, it runs in two phases: first only
branches move (tests decided, jumps threaded, chains pulled up) while every block still
loads what it tests, so that the blocks of a chain can be reordered freely; then
everything, the loads made redundant included.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.filter.ir import Block, blocks_in_order

M32 = 0xFFFF_FFFF
A_REG, X_REG = 0, 1
_REGISTERS = 2 + c.MEMWORDS


class Values:
    """Value numbering: an expression tuple gets one number for the whole program."""

    def __init__(self):
        self.numbers: dict[tuple, int] = {}
        self.constants: dict[int, int] = {}

    def number(self, expression: tuple) -> int:
        number = self.numbers.get(expression)
        if number is None:
            number = self.numbers[expression] = len(self.numbers)
            if expression[0] == "k":
                self.constants[number] = expression[1]
        return number

    def const(self, value: int) -> int:
        return self.number(("k", value & M32))

    def value_of(self, number: int | None) -> int | None:
        return None if number is None else self.constants.get(number)


def _alu(op: int, a: int, b: int) -> int | None:
    if op == c.ADD:
        return (a + b) & M32
    if op == c.SUB:
        return (a - b) & M32
    if op == c.MUL:
        return (a * b) & M32
    if op == c.DIV:
        return a // b if b else None
    if op == c.MOD:
        return a % b if b else None
    if op == c.AND:
        return a & b
    if op == c.OR:
        return a | b
    if op == c.XOR:
        return a ^ b
    if op == c.LSH:
        return (a << b) & M32 if b < 32 else None
    if op == c.RSH:
        return a >> b if b < 32 else None
    return None


def _test(code: int, a: int, k: int) -> bool:
    op = c.op(code)
    if op == c.JEQ:
        return a == k
    if op == c.JGT:
        return a > k
    if op == c.JGE:
        return a >= k
    return bool(a & k)


def _implied(op: int, k: int, fact_op: int, fact_k: int, holds: bool) -> bool | None:
    """What a fact ``v <fact_op> fact_k is <holds>`` says about ``v <op> k``."""
    if op == fact_op and k == fact_k:
        return holds
    if fact_op == c.JEQ and holds:
        return _test(op, fact_k, k)
    # the fact as an interval lo <= v <= hi
    lo, hi = 0, M32
    if fact_op == c.JGT:
        lo, hi = (fact_k + 1, M32) if holds else (0, fact_k)
    elif fact_op == c.JGE:
        lo, hi = (fact_k, M32) if holds else (0, fact_k - 1)
    elif fact_op == c.JEQ and not holds:
        if op == c.JEQ and k == fact_k:
            return False
        return None
    elif fact_op == c.JSET:
        if not holds and op == c.JSET and k & ~fact_k & M32 == 0:
            return False
        if holds and op == c.JSET and fact_k & ~k & M32 == 0:
            return True
        return None
    if lo > hi:
        return None
    if op == c.JEQ:
        return False if not lo <= k <= hi else (True if lo == hi == k else None)
    if op == c.JGT:
        return True if lo > k else False if hi <= k else None
    if op == c.JGE:
        return True if lo >= k else False if hi < k else None
    return None


#: the op of a membership fact ``(value, IN, frozenset of constants, True)``: the value is
#: one of those constants (each path into a block left it equal to one of them)
IN = -1
#: the most constants a membership fact holds
_MEMBERS = 16

#: what is known about one value: (the constants it equals, the constants it differs
#: from, the other test outcomes as (op, k, holds), its membership set or None)
_About = tuple[frozenset, frozenset, frozenset, "frozenset | None"]
_NOTHING: _About = (frozenset(), frozenset(), frozenset(), None)


class Facts:
    """The test outcomes that hold on an edge or on entry to a block, filed by the value
    tested: an or-chain of tests leaves hundreds of facts on its later edges, and
    every question the optimizer asks (is this test decided? which constants may this
    value be?) is about one value, so the answer is found without going through the
    others, and ``v == k`` / ``v != k`` facts are looked up in a set rather than tried
    one by one. Immutable: adding a fact makes a new one (copying the per-value table
    and the one value's sets, in C, not a Python loop over every fact)."""

    __slots__ = ("_by_value",)

    def __init__(self, by_value: dict[int, _About] | None = None):
        self._by_value: dict[int, _About] = by_value or {}

    def about(self, value: int | None) -> _About | None:
        return None if value is None else self._by_value.get(value)

    def values(self) -> list[int]:
        return list(self._by_value)

    def with_fact(self, fact: tuple) -> Facts:
        """These facts and ``(value, op, k, holds)`` (a membership fact narrows any
        membership already known)."""
        value, op, k, holds = fact
        equal, differ, others, members = self._by_value.get(value, _NOTHING)
        if op == IN:
            members = k if members is None else members & k
        elif op == c.JEQ:
            if holds:
                equal = equal | {k}
            else:
                differ = differ | {k}
        else:
            others = others | {(op, k, holds)}
        by_value = dict(self._by_value)
        by_value[value] = (equal, differ, others, members)
        return Facts(by_value)

    @staticmethod
    def common(all_facts: list[Facts]) -> Facts:
        """The facts every one of ``all_facts`` holds (a membership fact only where all
        hold the same one)."""
        first, rest = all_facts[0], all_facts[1:]
        if not rest:
            return first
        by_value: dict[int, _About] = {}
        for value, (equal, differ, others, members) in first._by_value.items():
            for facts in rest:
                about = facts._by_value.get(value)
                if about is None:
                    break
                equal, differ, others = equal & about[0], differ & about[1], others & about[2]
                if members is not None and members != about[3]:
                    members = None
            else:
                if equal or differ or others or members is not None:
                    by_value[value] = (equal, differ, others, members)
        return Facts(by_value)


def _decided_by(about: _About, op: int, k: int) -> bool | None:
    """What the facts about a value say of ``value <op> k`` (None: nothing), each fact
    taken on its own as :func:`_implied` takes it."""
    equal, differ, others, _ = about
    for known in equal:
        return _test(op, known, k)
    if op == c.JEQ and k in differ:
        return False
    for fact_op, fact_k, holds in others:
        implied = _implied(op, k, fact_op, fact_k, holds)
        if implied is not None:
            return implied
    return None


def _candidates(value: int | None, facts: Facts) -> list[int]:
    """The constants a membership fact allows for ``value`` that the other facts about it
    leave possible (empty when no membership fact is known)."""
    about = facts.about(value)
    if about is None:
        return []
    equal, differ, others, members = about
    if members is None:
        return []
    return sorted(m for m in members if m not in differ and all(m == known for known in equal)
                  and all(_test(op, m, k) == holds for op, k, holds in others))


def _merge_facts(edge_facts: list[Facts]) -> Facts:
    """What holds on entry to a block: the facts every edge in carries, and, for a value
    every edge left equal to one of a few constants (``[25]==6`` on one, ``[25]==17`` on
    another), the membership fact of their union."""
    merged = Facts.common(edge_facts)
    first = edge_facts[0]
    for value in first.values():
        about = first.about(value)
        assert about is not None
        if not about[0] and about[3] is None:
            continue
        members: set[int] = set()
        for facts in edge_facts:
            allowed = _candidates(value, facts) or sorted((facts.about(value) or _NOTHING)[0])
            if not allowed:
                break
            members.update(allowed)
        else:
            if len(members) <= _MEMBERS:
                merged = merged.with_fact((value, IN, frozenset(members), True))
    return merged


class _Pass:
    """One forward sweep over the graph: simplify statements, decide tests. ``statements``
    is the second phase's sweep, where libpcap rewrites statements (and only there knows
    what an operation on an A of 0 leaves)."""

    def __init__(self, values: Values, statements: bool = True):
        self.values = values
        self.statements = statements
        self.changed = False

    # ---- statement effects ------------------------------------------------------------
    def step(self, ins: I, state: list[int | None]) -> tuple[I | None, int | None, int | None]:
        """(the statement, possibly rewritten or None when redundant; the register it
        writes; the value written)."""
        v = self.values
        code, k = ins.code, ins.k
        cls = c.cls(code)
        if cls in (c.LD, c.LDX):
            dest = A_REG if cls == c.LD else X_REG
            mode = c.mode(code)
            if mode == c.IMM:
                value = v.const(k)
            elif mode == c.ABS:
                value = v.number(("abs", c.size(code), k))
            elif mode == c.LEN:
                value = v.number(("len",))
            elif mode == c.MEM:
                value = state[2 + k]
                known = v.value_of(value)
                other = X_REG if cls == c.LD else A_REG
                if known is not None:
                    ins = I(cls | c.IMM, k=known)
                elif value is not None and state[other] == value:
                    # the other register already holds it: a register move, and the
                    # store may then die
                    ins = I(c.MISC | (c.TXA if cls == c.LD else c.TAX))
            elif mode == c.MSH:
                value = v.number(("msh", k))
            else:                                            # IND
                x = state[X_REG]
                xk = v.value_of(x)
                if xk is not None and (xk + k) <= M32:
                    ins = I(c.LD | c.size(code) | c.ABS, k=xk + k)
                    value = v.number(("abs", c.size(code), xk + k))
                else:
                    value = None if x is None else v.number(("ind", c.size(code), k, x))
            if value is None:
                value = v.number(("fresh", id(ins), len(v.numbers)))
            if state[dest] == value:
                return None, None, None
            return ins, dest, value
        if cls in (c.ST, c.STX):
            value = state[A_REG if cls == c.ST else X_REG]
            if value is not None and state[2 + k] == value:
                return None, None, None
            return ins, 2 + k, value
        if cls == c.ALU:
            return self.alu(ins, state)
        if cls == c.MISC:
            if code & 0xF8 == c.TXA:
                if state[A_REG] is not None and state[A_REG] == state[X_REG]:
                    return None, None, None
                return ins, A_REG, state[X_REG]
            if state[X_REG] is not None and state[X_REG] == state[A_REG]:
                return None, None, None
            return ins, X_REG, state[A_REG]
        raise AssertionError(f"statement {ins}")

    def alu(self, ins: I, state: list[int | None]) -> tuple[I | None, int | None, int | None]:
        v = self.values
        op = c.op(ins.code)
        a = state[A_REG]
        if op == c.NEG:
            known = v.value_of(a)
            if known is not None:
                return I(c.LD | c.IMM, k=-known & M32), A_REG, v.const(-known)
            return ins, A_REG, None if a is None else v.number(("neg", a))
        if c.src(ins.code) == c.X:
            xk = v.value_of(state[X_REG])
            if xk is None:
                if self.statements and v.value_of(a) == 0:
                    # as libpcap's opt_stmt: an operation on an A of 0 is X or 0, whatever
                    # X holds (so ``0 & tcp[1]`` no longer needs the byte it loaded, and
                    # the load may go: libpcap keeps short packets there, and so must we)
                    if op in (c.ADD, c.OR, c.XOR):
                        return I(c.MISC | c.TXA), A_REG, state[X_REG]
                    if op in (c.MUL, c.DIV, c.MOD, c.AND, c.LSH, c.RSH):
                        return I(c.LD | c.IMM, k=0), A_REG, v.const(0)
                value = None if a is None or state[X_REG] is None else v.number(("alu", op, a, state[X_REG]))
                return ins, A_REG, value
            if op in (c.DIV, c.MOD) and xk == 0:
                return ins, A_REG, None
            ins = I(c.ALU | op | c.K, k=xk)
        k = ins.k
        ak = v.value_of(a)
        if ak is not None:
            folded = _alu(op, ak, k)
            if folded is not None:
                return I(c.LD | c.IMM, k=folded), A_REG, v.const(folded)
        if (op in (c.ADD, c.SUB, c.OR, c.XOR, c.LSH, c.RSH) and k == 0) or (op in (c.MUL, c.DIV) and k == 1) \
                or (op == c.AND and k == M32):
            return None, None, None
        if (op == c.AND and k == 0) or (op == c.MUL and k == 0):
            return I(c.LD | c.IMM, k=0), A_REG, v.const(0)
        if op in (c.DIV, c.MOD) and k == 0:
            return ins, A_REG, None
        return ins, A_REG, None if a is None else v.number(("alu", op, a, v.const(k)))

    def run_statements(self, block: Block, state: list[int | None], rewrite: bool) -> list[int | None]:
        start = state
        state = list(state)
        kept = []
        for ins in block.stmts:
            new, dest, value = self.step(ins, state)
            if new is None:
                continue
            if new != ins and ins in block.pinned:
                block.pinned.append(new)
            kept.append(new)
            state[dest] = value if value is not None else self.values.number(("fresh", id(new), len(self.values.numbers)))
        if kept and all(state[r] == entry for r, entry in enumerate(start)):
            kept = []       # together they recompute what the registers already hold
        if rewrite and kept != block.stmts:
            block.stmts = kept
            self.changed = True
        return state

    # ---- tests ------------------------------------------------------------------------
    def decide(self, block: Block, state: list[int | None], facts: Facts) -> bool | None:
        op = c.op(block.code)
        a = state[A_REG]
        if c.src(block.code) == c.X:
            xk = self.values.value_of(state[X_REG])
            if xk is None:
                return None
            k = xk
        else:
            k = block.k
        ak = self.values.value_of(a)
        if ak is not None:
            return _test(block.code, ak, k)
        about = facts.about(a)
        if about is not None:
            implied = _decided_by(about, op, k)
            if implied is not None:
                return implied
        candidates = _candidates(a, facts)
        if candidates:
            outcomes = {_test(block.code, candidate, k) for candidate in candidates}
            if len(outcomes) == 1:
                return outcomes.pop()
        return None

    def test_fact(self, block: Block, state: list[int | None], outcome: bool) -> tuple | None:
        if state[A_REG] is None:
            return None
        k = block.k
        if c.src(block.code) == c.X:
            xk = self.values.value_of(state[X_REG])
            if xk is None:
                return None
            k = xk
        return (state[A_REG], c.op(block.code), k, outcome)


def _meet(states: list[list[int | None]]) -> list[int | None]:
    """Per register, the value every state holds (None where they differ)."""
    first = states[0]
    if all(state == first for state in states[1:]):
        return list(first)
    n = len(states)
    return [column[0] if column.count(column[0]) == n else None for column in zip(*states)]


def _predecessors(order: list[Block]) -> dict[int, list[tuple[Block, str]]]:
    preds: dict[int, list[tuple[Block, str]]] = {b.id: [] for b in order}
    for b in order:
        if b.is_return:
            continue
        for attr in (("jt",) if b.is_goto else ("jt", "jf")):
            preds[getattr(b, attr).id].append((b, attr))
    return preds


def _initial_state(values: Values) -> list[int | None]:
    return [values.const(0), values.const(0)] + [values.number(("mem0", i)) for i in range(c.MEMWORDS)]


#: what :func:`_forward` finds: the blocks in order, each one's entry and exit registers,
#: the facts on entry to each, and the sweep
_Analysis = tuple[list[Block], dict[int, list], dict[int, list], dict[int, Facts], _Pass]


def _forward(root: Block, values: Values, rewrite: bool, statements: bool = True) -> _Analysis:
    """Entry/exit states and entry facts of every block; with ``rewrite``, turn decided
    tests into moves on the way, and with ``statements`` too, simplify statements."""
    sweep = _Pass(values, statements)
    order = blocks_in_order(root)
    preds = _predecessors(order)
    entry: dict[int, list] = {}
    exit_: dict[int, list] = {}
    facts: dict[int, Facts] = {}
    for block in order:
        incoming = preds[block.id]
        if block is root:
            entry[block.id] = _initial_state(values)
            facts[block.id] = Facts()
        elif any(p.id not in exit_ for p, _ in incoming):
            # the top of a loop: nothing is known about what the loop brings round
            entry[block.id] = [None] * _REGISTERS
            facts[block.id] = Facts()
        else:
            entry[block.id] = _meet([exit_[p.id] for p, _ in incoming])
            edge_facts = []
            for p, attr in incoming:
                f = facts[p.id]
                if not p.is_goto:
                    fact = sweep.test_fact(p, exit_[p.id], attr == "jt")
                    if fact is not None:
                        f = f.with_fact(fact)
                edge_facts.append(f)
            facts[block.id] = _merge_facts(edge_facts)
        exit_[block.id] = sweep.run_statements(block, entry[block.id], rewrite and statements)
        if rewrite and not block.is_return and not block.is_goto:
            outcome = sweep.decide(block, exit_[block.id], facts[block.id])
            if outcome is None and block.jt is block.jf:
                outcome = True
            if outcome is not None:
                if block is root:
                    block.pinned = _feeding(block)
                block.jt = block.jt if outcome else block.jf
                block.jf = None
                block.code = c.JMP | c.JA
                block.k = 0
                sweep.changed = True
    return order, entry, exit_, facts, sweep


def _rewrite(root: Block, values: Values, statements: bool) -> tuple[bool, _Analysis | None]:
    """A rewriting :func:`_forward`: whether it changed the graph, and where it did not,
    its analysis, which is then the graph's as it is (what a non-rewriting sweep would
    find: the passes that follow take it instead of sweeping again)."""
    analysis = _forward(root, values, rewrite=True, statements=statements)
    changed = analysis[4].changed
    return changed, None if changed else analysis


# ---- liveness ------------------------------------------------------------------------

def _uses_defs(ins: I) -> tuple[set[int], set[int]]:
    code, k = ins.code, ins.k
    cls = c.cls(code)
    if cls == c.LD:
        mode = c.mode(code)
        if mode == c.IND:
            return {X_REG}, {A_REG}
        if mode == c.MEM:
            return {2 + k}, {A_REG}
        return set(), {A_REG}
    if cls == c.LDX:
        return ({2 + k} if c.mode(code) == c.MEM else set()), {X_REG}
    if cls == c.ST:
        return {A_REG}, {2 + k}
    if cls == c.STX:
        return {X_REG}, {2 + k}
    if cls == c.ALU:
        if c.op(code) == c.NEG:
            return {A_REG}, {A_REG}
        return ({A_REG, X_REG} if c.src(code) == c.X else {A_REG}), {A_REG}
    if cls == c.MISC:
        return ({X_REG}, {A_REG}) if code & 0xF8 == c.TXA else ({A_REG}, {X_REG})
    return set(), set()


def _terminal_uses(block: Block) -> set[int]:
    if block.is_return:
        source = c.rval(block.code)
        return {A_REG} if source == c.A else {X_REG} if source == c.X else set()
    if block.is_goto:
        return set()
    return {A_REG, X_REG} if c.src(block.code) == c.X else {A_REG}


def _liveness(order: list[Block]) -> dict[int, set[int]]:
    """Registers live on entry to each block: backward sweeps until nothing changes (one
    sweep unless a loop carries liveness round)."""
    live_in: dict[int, set[int]] = {block.id: set() for block in order}
    changed = True
    while changed:
        changed = False
        for block in reversed(order):
            live = set(_terminal_uses(block))
            for succ in block.successors():
                live |= live_in[succ.id]
            for ins in reversed(block.stmts):
                uses, defs = _uses_defs(ins)
                live = (live - defs) | uses
            if live != live_in[block.id]:
                live_in[block.id] = live
                changed = True
    return live_in


def _feeding(block: Block) -> list[I]:
    """The block's statements that compute what its test reads."""
    live = _terminal_uses(block)
    feeding = []
    for ins in reversed(block.stmts):
        uses, defs = _uses_defs(ins)
        if defs & live:
            feeding.append(ins)
            live = (live - defs) | uses
    return feeding


def _remove_dead(order: list[Block], live_in: dict[int, set[int]]) -> bool:
    """Statements whose results nothing reads go, but for those the root's test read
    before it was decided (:attr:`Block.pinned`): libpcap's optimizer decides a test by
    making both its edges one, the test still reading what its statements computed, and
    at the end moves the root's statements to the block it now starts at (opt_root), so
    a packet too short for those loads is rejected there, and pybpf keeps the packets
    libpcap keeps — unless the root is then a return, which opt_root leaves without
    statements (``1 != (0 & icmp[1])`` is ``ret #262144``, every packet kept)."""
    changed = False
    for block in order:
        live = set(_terminal_uses(block))
        for succ in block.successors():
            live |= live_in[succ.id]
        kept = []
        for ins in reversed(block.stmts):
            uses, defs = _uses_defs(ins)
            if defs and not defs & live and not (block is order[0] and not block.is_return and ins in block.pinned):
                changed = True
                continue
            live = (live - defs) | uses
            kept.append(ins)
        kept.reverse()
        block.stmts = kept
    return changed


def _masks_to_jset(order: list[Block], live_in: dict[int, set[int]]) -> bool:
    """``and #m; jeq #0`` becomes ``jset #m`` with the branches swapped, when nothing
    after the test reads the masked A."""
    changed = False
    for block in order:
        if block.is_return or block.is_goto or block.code != c.JMP | c.JEQ | c.K or block.k != 0:
            continue
        if not block.stmts or block.stmts[-1].code != c.ALU | c.AND | c.K:
            continue
        if A_REG in live_in[block.jt.id] or A_REG in live_in[block.jf.id]:
            continue
        mask = block.stmts[-1].k
        block.stmts = block.stmts[:-1]
        block.code, block.k = c.JMP | c.JSET | c.K, mask
        block.jt, block.jf = block.jf, block.jt
        changed = True
    return changed


def _tax_at_store(order: list[Block]) -> bool:
    """``st M[k]; ...; ldx M[k]`` becomes ``st M[k]; tax; ...`` where nothing between
    reads or writes X or M[k]: X then takes the value where A held it, and the store may
    die. A comparison or operation whose left operand needed no scratch word in the end
    (``(0 * len) < ip[0]``: the left side is ``ld #0``) is then ``...; tax; ld #0``, as in
    libpcap's program, which computes the right operand last and turns ``st; ldx`` into
    ``tax`` (opt_peep)."""
    changed = False
    for block in order:
        while _tax_once(block.stmts):
            changed = True
    return changed


def _tax_once(stmts: list[I]) -> bool:
    """One rewrite of :func:`_tax_at_store` in ``stmts`` (in place); whether there was one."""
    for j, ins in enumerate(stmts):
        if ins.code != c.LDX | c.MEM:
            continue
        for i in range(j - 1, -1, -1):
            earlier = stmts[i]
            if earlier.code == c.ST and earlier.k == ins.k:
                stmts[i + 1:j + 1] = [I(c.MISC | c.TAX)] + stmts[i + 1:j]
                return True
            uses, defs = _uses_defs(earlier)
            if X_REG in uses | defs or 2 + ins.k in defs:
                break
    return False


# ---- jump threading ------------------------------------------------------------------

def _thread(root: Block, values: Values, twins: dict[tuple, Block] | None, analysis: _Analysis | None = None) -> bool:
    """Thread every edge (see :func:`_follow` and :func:`_test_only`); ``analysis`` is
    :func:`_forward`'s of the graph as it is, where the caller has one."""
    order, entry, exit_, facts, sweep = analysis or _forward(root, values, rewrite=False)
    live_in = _liveness(order)
    changed = False
    for block in order:
        if block.is_return:
            continue
        for attr in (("jt",) if block.is_goto else ("jt", "jf")):
            # follow the edge as far as tests on it are decided
            edge_facts = facts[block.id]
            state = exit_[block.id]
            if not block.is_goto:
                fact = sweep.test_fact(block, state, attr == "jt")
                if fact is not None:
                    edge_facts = edge_facts.with_fact(fact)
            first = getattr(block, attr)
            furthest = _follow(first, state, edge_facts, sweep, live_in, state, split=True) or first
            target = _test_only(furthest, state, sweep, twins)
            if target is not getattr(block, attr):
                setattr(block, attr, target)
                changed = True
    return changed


def _follow(target: Block, current: list[int | None], facts: Facts, sweep: _Pass,
            live_in: dict[int, set[int]], origin: list[int | None], split: bool) -> Block | None:
    """The furthest block past ``target`` an edge leaving the registers as ``origin`` may
    skip to, following the tests its facts decide (None: none past it). The registers
    change along the tests followed (their loads run on the real path); the edge may skip
    to a block where every register it reads still holds what the edge itself left
    there. At a test the facts leave open but whose value is one of a few constants
    (``[25]`` is 6, 17 or 132), each constant is followed on its own (once per walk):
    where all of them end at one block, the edge goes there."""
    furthest = None
    hops = 0
    while not target.is_return and not target.is_goto and hops < 64:
        before = current
        current = sweep.run_statements(target, current, rewrite=False)
        outcome = sweep.decide(target, current, facts)
        if outcome is None:
            candidates = _candidates(current[A_REG], facts) if split else []
            if len(candidates) > 1:
                ends = {_follow(target, before, facts.with_fact((current[A_REG], c.JEQ, m, True)), sweep, live_in, origin,
                                split=False) for m in candidates}
                if len(ends) == 1 and None not in ends:
                    furthest = ends.pop()
            break
        fact = sweep.test_fact(target, current, outcome)
        if fact is not None:
            facts = facts.with_fact(fact)
        successor = target.jt if outcome else target.jf
        assert successor is not None            # a test has both successors
        target = successor
        hops += 1
        if all(current[r] is not None and current[r] == origin[r] for r in live_in[target.id]):
            furthest = target
    return furthest


def _test_only(target: Block, state: list[int | None], sweep: _Pass, twins: dict[tuple, Block] | None) -> Block:
    """The block an edge should enter: where ``target``'s statements recompute what the
    registers already hold on this edge (``ldb [54]`` with A = [54]), a statement-less
    copy of its test, so that paths which left the right value in A share one test
    instead of reloading (libpcap's optimizer reaches the same blocks through its
    edge-level value numbering). Copies are shared per test and successors while they
    are unchanged."""
    if twins is None or target.is_return or target.is_goto or not target.stmts:
        return target
    through = sweep.run_statements(target, state, rewrite=False)
    if through != state:
        return target
    key = (target.code, target.k, target.jt.id, target.jf.id)
    twin = twins.get(key)
    # a copy since rewritten for the facts of its own predecessors no longer fits
    if twin is None or twin.stmts or (twin.code, twin.k, twin.jt, twin.jf) != (target.code, target.k, target.jt,
                                                                                  target.jf):
        twin = twins[key] = Block([], target.code, target.k, target.jt, target.jf)
    return twin


# ---- pulling tests of one value together ---------------------------------------------

def _exposed(block: Block) -> tuple[set[int], set[int]]:
    """(the registers ``block`` reads before writing them, its test included; the
    registers it writes)."""
    defined: set[int] = set()
    exposed: set[int] = set()
    for ins in block.stmts:
        uses, defs = _uses_defs(ins)
        exposed |= uses - defined
        defined |= defs
    return exposed | (_terminal_uses(block) - defined), defined


def _pullup(root: Block, values: Values, analysis: _Analysis | None = None) -> bool:
    """Where an edge leaves A holding a value and enters a chain of tests sharing one
    outcome (``a or b or c``: every true edge to the same block, each next test on the
    false edge; or ``and``'s mirror image), move the later tests of the chain that test
    that value up to the end of the run of tests of that value at the chain's front, so
    that they load it once: ``[26]==1, [30]==1, [26]==2, [30]==2`` becomes ``[26]==1,
    [26]==2, [30]==1, [30]==2`` (libpcap's or_pullup and and_pullup). The tests passed
    over may be reordered when none reads a register another writes (each computes its
    value from what held before the chain) and nothing after the chain reads a register
    they write; each block moves at most once per call. ``analysis``: as :func:`_thread`'s."""
    order, _, exit_, _, _ = analysis or _forward(root, values, rewrite=False)
    preds = _predecessors(order)
    live_in = _liveness(order)
    touched: set[int] = set()
    # (block, edge) pairs already inside a run scanned from an earlier head: scanning
    # from them again would find the same tests
    covered: set[tuple[int, str, str]] = set()
    changed = False

    def in_chain(block: Block, shared: str, outcome: Block) -> bool:
        return (not block.is_return and not block.is_goto and getattr(block, shared) is outcome
                and len(preds[block.id]) == 1 and block.id not in touched)

    for head in order:
        value = exit_[head.id][A_REG]
        if head.is_return or head.id in touched or value is None:
            continue
        for edge in (("jt",) if head.is_goto else ("jt", "jf")):
            first = getattr(head, edge)
            if first.is_return or first.is_goto or len(preds[first.id]) != 1 or first.id in touched:
                continue
            for shared, follow in (("jt", "jf"), ("jf", "jt")):
                if (head.id, edge, shared) in covered:
                    continue
                outcome = getattr(first, shared)
                # the run of tests of the value at the front: the pulled test goes after it
                anchor, attr = head, edge
                while in_chain(getattr(anchor, attr), shared, outcome) and \
                        exit_[getattr(anchor, attr).id][A_REG] == value:
                    anchor, attr = getattr(anchor, attr), follow
                    covered.add((anchor.id, attr, shared))
                # the tests after it, as far as they may be reordered: those of the
                # value move up to the run, keeping their order, the others follow
                block = getattr(anchor, attr)
                passed: list[Block] = []
                reads: set[int] = set()
                writes: set[int] = set()
                last = -1
                while in_chain(block, shared, outcome) and len(passed) < 4096:
                    exposed, defs = _exposed(block)
                    if (reads | exposed) & (writes | defs):
                        break
                    reads |= exposed
                    writes |= defs
                    if passed and exit_[block.id][A_REG] == value:
                        last = len(passed)
                    passed.append(block)
                    block = getattr(block, follow)
                if last < 0:
                    continue
                passed, rest = passed[:last + 1], getattr(passed[last], follow)
                writes = set().union(*(_exposed(b)[1] for b in passed))
                if live_in[outcome.id] & writes or live_in[rest.id] & writes:
                    continue
                same = [b for b in passed if exit_[b.id][A_REG] == value]
                other = [b for b in passed if exit_[b.id][A_REG] != value]
                sequence = same + other
                setattr(anchor, attr, sequence[0])
                for before, after in zip(sequence, sequence[1:]):
                    setattr(before, follow, after)
                setattr(sequence[-1], follow, rest)
                touched |= {head.id, anchor.id} | {b.id for b in sequence}
                changed = True
                break
            if head.id in touched:
                break
    return changed


# ---- graph clean-up ------------------------------------------------------------------

def _skip_moves(root: Block) -> tuple[Block, bool]:
    """Edges into statement-less moves go to the move's target; a move with statements
    whose target has no other predecessor absorbs it."""
    changed = False

    def final(b: Block) -> Block:
        seen = 0
        while b.is_goto and not b.stmts and seen < 1000:
            b = b.jt
            seen += 1
        return b

    new_root = final(root)
    changed |= new_root is not root
    order = blocks_in_order(new_root)
    for block in order:
        for attr in ("jt", "jf"):
            target = getattr(block, attr)
            if target is not None and final(target) is not target:
                setattr(block, attr, final(target))
                changed = True
    order = blocks_in_order(new_root)
    preds = _predecessors(order)
    absorbed: set[int] = set()     # unreachable now: the absorbing block took their place
    for block in order:
        if block.is_goto and block.stmts and block.id not in absorbed:
            target = block.jt
            assert target is not None                # a move has its target
            if len(preds[target.id]) == 1 and target is not new_root:
                block.stmts = block.stmts + target.stmts
                block.code, block.k, block.jt, block.jf = target.code, target.k, target.jt, target.jf
                absorbed.add(target.id)
                changed = True
    return new_root, changed


def _merge_identical(root: Block) -> tuple[Block, bool]:
    order = blocks_in_order(root)
    canonical: dict[tuple, Block] = {}
    replacement: dict[int, Block] = {}
    changed = False
    for block in reversed(order):            # successors first
        for attr in ("jt", "jf"):
            target = getattr(block, attr)
            if target is not None and target.id in replacement:
                setattr(block, attr, replacement[target.id])
                changed = True
        key = (tuple(block.stmts), block.code, block.k, block.jt.id if block.jt else None,
               block.jf.id if block.jf else None)
        if key in canonical:
            replacement[block.id] = canonical[key]
        else:
            canonical[key] = block
    return replacement.get(root.id, root), changed


def optimize(root: Block) -> Block:
    values = Values()
    twins: dict[tuple, Block] = {}
    root = _move_branches(root, values)
    for _ in range(100):
        changed, unchanged = _rewrite(root, values, statements=True)
        if _thread(root, values, twins, unchanged):
            changed, unchanged = True, None
        changed |= _pullup(root, values, unchanged)
        order = blocks_in_order(root)
        changed |= _remove_dead(order, _liveness(order))
        changed |= _masks_to_jset(order, _liveness(order))
        changed |= _tax_at_store(order)
        root, moved = _skip_moves(root)
        root, merged = _merge_identical(root)
        if not (changed or moved or merged):
            break
    if _untwin(root, values):
        root, _ = _skip_moves(root)
        root, _ = _merge_identical(root)
    return root


def _untwin(root: Block, values: Values) -> bool:
    """Where a statement-less copy of a test (see :func:`_test_only`) lives beside its
    original, the copy's edges go back to the original, whose statements recompute on
    them what the registers already hold: one test fewer in the program (the copy only
    pays where the original is left with no edge)."""
    order, _, exit_, _, sweep = _forward(root, values, rewrite=False)
    preds = _predecessors(order)
    def test_of(block: Block) -> tuple:
        return (block.code, block.k) + tuple(b.id for b in block.successors())

    originals: dict[tuple, Block] = {}
    for block in order:
        if block.stmts and not block.is_return and not block.is_goto:
            originals.setdefault(test_of(block), block)
    changed = False
    for block in order:
        if block.stmts or block.is_return or block.is_goto or block is root:
            continue
        original = originals.get(test_of(block))
        if original is None or not all(
                sweep.run_statements(original, exit_[p.id], rewrite=False) == exit_[p.id] for p, _ in preds[block.id]):
            continue
        for p, attr in preds[block.id]:
            setattr(p, attr, original)
        changed = True
    return changed


def _move_branches(root: Block, values: Values) -> Block:
    """The first phase, as libpcap's: decide tests, thread jumps and pull tests of one
    value together while every block still computes what it tests from scratch (its
    loads intact), so that the blocks of a chain can be reordered freely; the loads
    made redundant go in the second phase."""
    for _ in range(100):
        changed, unchanged = _rewrite(root, values, statements=False)
        if _thread(root, values, None, unchanged):
            changed, unchanged = True, None
        changed |= _pullup(root, values, unchanged)
        root, moved = _skip_moves(root)
        root, merged = _merge_identical(root)
        if not (changed or moved or merged):
            break
    return root
