"""The verifier proper: every path of a program simulated over abstract states.

:class:`Verifier` walks paths depth first as the kernel's ``do_check`` does: each
conditional jump whose outcome is not decided splits the path (the jump side is pushed
and verified later), each side with its registers narrowed by the comparison. At prune
points (jump targets and fall-throughs) the state is compared with the states already
verified there: one that is contained in a fully explored one is safe and stops; one
equal to a state still being explored on the same path is an infinite loop. Loops are
thus unrolled until their states repeat or their exit is certain, bounded by the
kernel's limit of 1,000,000 processed instructions.
"""

from __future__ import annotations

import errno
import gc
from functools import lru_cache

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.isa.helpers import HELPER_NAMES, helper_id, helper_name
from pybpf.object import AttachType, MapType, ProgramType
from pybpf.verifier import scalar as sc
from pybpf.verifier import state as s
from pybpf.verifier.gpl_helpers import GPL_ONLY
from pybpf.verifier.memory import MAX_VAR_OFF, STACK_SIZE, Access, constant_key
from pybpf.verifier.program import Layout, Refused

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field

    from pybpf.btf import BTF
    from pybpf.verifier.btf_pointers import Target
    from pybpf.verifier.kept import KeptStates
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

INSN_LIMIT = 1_000_000
MAX_CALL_FRAMES = 8
#: program types whose return value the kernel restricts, with the allowed range
RETURN_RANGES = {ProgramType.CGROUP_SKB: (0, 1), ProgramType.CGROUP_SOCK: (0, 1), ProgramType.SOCK_OPS: (0, 1),
                 ProgramType.CGROUP_DEVICE: (0, 1), ProgramType.CGROUP_SYSCTL: (0, 1),
                 ProgramType.CGROUP_SOCKOPT: (0, 1), ProgramType.SK_LOOKUP: (0, 1), ProgramType.NETFILTER: (0, 1)}
#: the maps a helper accepts (kernel's check_map_func_compatibility), by helper name
_HELPER_MAPS = {
    "tail_call": {MapType.PROG_ARRAY}, "perf_event_output": {MapType.PERF_EVENT_ARRAY},
    "perf_event_read": {MapType.PERF_EVENT_ARRAY}, "get_stackid": {MapType.STACK_TRACE},
    "ringbuf_output": {MapType.RINGBUF}, "ringbuf_reserve": {MapType.RINGBUF}, "ringbuf_query": {MapType.RINGBUF},
    "ringbuf_reserve_dynptr": {MapType.RINGBUF},
    "redirect_map": {MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP},
    "map_push_elem": {MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER},
    "map_pop_elem": {MapType.QUEUE, MapType.STACK}, "map_peek_elem": {MapType.QUEUE, MapType.STACK,
                                                                      MapType.BLOOM_FILTER},
    "current_task_under_cgroup": {MapType.CGROUP_ARRAY}, "task_storage_get": {MapType.TASK_STORAGE},
    "task_storage_delete": {MapType.TASK_STORAGE},
}
#: maps only some helpers accept (the other direction of the same check)
_MAP_HELPERS = {
    MapType.PROG_ARRAY: {"tail_call"}, MapType.PERF_EVENT_ARRAY: {"perf_event_output", "perf_event_read",
                                                                  "perf_event_read_value", "skb_output"},
    MapType.RINGBUF: {"ringbuf_output", "ringbuf_reserve", "ringbuf_query", "ringbuf_reserve_dynptr"},
    MapType.STACK_TRACE: {"get_stackid"},
    MapType.QUEUE: {"map_push_elem", "map_pop_elem", "map_peek_elem"},
    MapType.STACK: {"map_push_elem", "map_pop_elem", "map_peek_elem"},
    MapType.BLOOM_FILTER: {"map_push_elem", "map_peek_elem"},
    MapType.CGROUP_ARRAY: {"skb_under_cgroup", "current_task_under_cgroup"},
    MapType.TASK_STORAGE: {"task_storage_get", "task_storage_delete"},
}
_ALU_NAMES = {op: ("+=" if op == o.ADD else "-=" if op == o.SUB else "*=" if op == o.MUL else "/=" if op == o.DIV
                   else "|=" if op == o.OR else "&=" if op == o.AND else "<<=" if op == o.LSH else ">>=" if op == o.RSH
                   else "%=" if op == o.MOD else "^=" if op == o.XOR else "s>>=" if op == o.ARSH else "?")
              for op in o.ALU_OP_NAMES}
#: maps bpf_for_each_map_elem walks (the others have no map_for_each_callback)
_FOR_EACH_MAPS = {MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.ARRAY,
                  MapType.PERCPU_ARRAY}
#: the kernel's internal "operation not supported" errno (not in userspace's errno.h)
_ENOTSUPP = 524
#: program types whose functions run on a private stack (measured on this kernel: only perf_event)
_PRIVATE_STACK = {ProgramType.PERF_EVENT}
#: program types whose context is a kernel function's arguments, typed by the kernel's
#: BTF (pybpf.verifier.btf_pointers, imported for them)
_TARGETED = {ProgramType.TRACING, ProgramType.LSM}
_SPIN_UNLOCK = helper_id("spin_unlock")
#: the kernel's is_tracing_prog_type
_TRACING_TYPES = {ProgramType.KPROBE, ProgramType.TRACEPOINT, ProgramType.PERF_EVENT, ProgramType.RAW_TRACEPOINT,
                  ProgramType.RAW_TRACEPOINT_WRITABLE}
_SKB_LD = {ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT}
#: instruction kinds the walk tells apart cheaply (others: 0)
_ALU_CLASS, _JUMP_CLASS, _CONDITIONAL_CLASS = 1, 2, 3
#: ALU instructions with a fast path: a register or immediate operand (a binary
#: operation whose immediate needs no check), and moves of an immediate
_BY_REG, _BY_IMM, _MOV_IMM, _MOV_REG = 1, 2, 3, 4


def _alu_fast(ins: Instruction) -> int:
    """Which fast path of :meth:`Verifier.alu` ``ins`` takes (0: none)."""
    kind, op = ins.opcode & 0x07, ins.opcode & 0xF0
    if kind not in (o.ALU, o.ALU64) or ins.dst == o.R10 or op in (o.NEG, o.END) or ins.src > 10:
        return 0
    if op == o.MOV:
        if ins.off:
            return 0
        return _MOV_IMM if ins.opcode & 0x08 == o.K else _MOV_REG if kind == o.ALU64 else 0
    if ins.opcode & 0x08 == o.X:
        return _BY_REG
    if op in (o.DIV, o.MOD) and ins.imm == 0:
        return 0
    if op in (o.LSH, o.RSH, o.ARSH) and not 0 <= ins.imm < (64 if kind == o.ALU64 else 32):
        return 0
    return _BY_IMM


@dataclass(eq=False)     # identity: snapshots are removed from lists by identity
class Snapshot:
    """A state verified (or being verified) at an instruction; ``branches`` counts the
    paths below it still being explored (0: everything after it was found safe)."""

    state: s.State
    parent: Snapshot | None
    index: int
    #: a register mask per frame: the registers live at ``index``
    live: tuple
    branches: int = 1
    #: how often a state here was (hits) and was not (misses) found within this one
    hits: int = 0
    misses: int = 0
    #: (frame, register, value) of its live constant scalars: a state without each of
    #: them is not within this one (a quick test before State.contains)
    consts: frozenset = frozenset()
    #: the same as :func:`_constants` gives them (the key of the open snapshots)
    const_key: tuple = ()
    #: at a checkpoint: the KeptStates holding it, its place there, the scan its misses
    #: were counted up to, and the scan after which it is dropped (see kept.py)
    kept: KeptStates | None = None
    sequence: int = 0
    mark: int = 0
    deadline: int = 0
    #: its State.key over its live registers, once asked for (see identity)
    key: tuple | None = None

    def identity(self) -> tuple:
        """The state's key over its live registers (computed when a state with the same
        constants arrives while this one is open: most snapshots are never asked)."""
        if self.key is None:
            self.key = self.state.key(self.live)
        return self.key


@dataclass
class Result:
    """What a verification found: counts for the statistics line, and the log."""

    processed: int = 0
    total_states: int = 0
    peak_states: int = 0
    max_states_per_insn: int = 0
    stack_depths: dict[int, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    #: instruction index → the kinds of pointer its loads and stores went through on
    #: every path ("fp": its own frame's stack, "caller fp", "pkt", "ctx", "map_value"...)
    accesses: dict[int, set[str]] = field(default_factory=dict)

    def stats(self) -> str:
        depths = "+".join(str(self.stack_depths.get(f, 0)) for f in sorted(self.stack_depths)) or "0"
        return (f"stack depth {depths}\nprocessed {self.processed} insns (limit {INSN_LIMIT}) max_states_per_insn "
                f"{self.max_states_per_insn} total_states {self.total_states} peak_states {self.peak_states} "
                "mark_read 0")


#: the licences the kernel counts as GPL-compatible (license_is_gpl_compatible)
GPL_COMPATIBLE = frozenset({"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
                            "Dual MPL/GPL"})


class Verifier:
    """Verifies one program of type ``kind`` whose lddw map references name ``maps`` by id."""

    def __init__(self, instructions: list[Instruction], kind: ProgramType, maps: dict[int, s.MapInfo],
                 log_level: int = 0, expected_return: tuple[int, int] | None = None, func_info: bool = False,
                 attach: tuple[AttachType | None, str] = (None, ""), btf: BTF | None = None,
                 license: str = "GPL"):
        self.layout = Layout(list(instructions))
        self.code = self.layout.code
        self.kind = ProgramType.parse(kind)
        self.maps = maps
        self.log_level = log_level
        #: the program carries BTF func info (callbacks need it)
        self.func_info = func_info
        #: the helpers this program may not call: the GPL-only ones under another licence
        self.gpl_refused = frozenset() if license in GPL_COMPATIBLE else GPL_ONLY.get(self.kind.name.lower(), frozenset())
        self.return_range = expected_return or RETURN_RANGES.get(self.kind)
        self.result = Result()
        self.index = 0
        self.next_id = 0
        self.current: s.State | None = None
        #: instruction → the snapshots kept there (at a checkpoint: KeptStates)
        self.visited: dict[int, list[Snapshot] | KeptStates] = {}
        #: instruction → snapshots whose every continuation was found safe (pruning candidates)
        self.done: dict[int, list[Snapshot]] = {}
        self.depths: dict[int, int] = {}
        #: instruction → its snapshots still being explored (a path through them goes on),
        #: by their constants (:func:`_constants`: only a state with the same ones can equal one)
        self.open: dict[int, dict[tuple, list[Snapshot]]] = {}
        #: jump-class instructions processed (calls and exits too), and both counters
        #: when the last state was kept
        self.jumps = self.last_jumps = self.last_processed = 0
        #: helper calls that call a callback (their own prune points, see visit_callback_call)
        self.callback_calls: set[int] = set()
        #: may_goto instructions (always a state kept; see may_goto)
        self.may_gotos: set[int] = set()
        #: both of the above
        self.checkpoints: set[int] = set()
        #: functions a path entered (calls, callbacks)
        self.entered: set[int] = set()
        #: instruction → registers whose exact value mattered there (see mark_precise)
        self.sinks: dict[int, int] = {}
        self.precise: list[int] | None = None
        #: how the program attaches (attach type, target name) and the kernel BTF its
        #: target and BTF pointers are typed from (the running kernel's when not given)
        self.attach, self.kernel = attach, btf
        #: a tracing program's attach target (its context holds the target's arguments)
        self.target: Target | None = None

    # -- driver -----------------------------------------------------------------------

    def run(self) -> Result:
        """Verify the program; raises :class:`Refused`. The cyclic garbage collector is
        paused meanwhile: the walk makes millions of small objects and no cycles, and its
        collections cost a sixth of the time."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self.walk_all()
        finally:
            if collecting:
                gc.enable()

    def walk_all(self) -> Result:
        self.check_map_fields()
        self.layout.check_cfg()
        #: instruction → ALU, jump (calls and exits too) or other class; each jump's target
        #: (-1: not a jump), each instruction's immediate as a register (ALU fast paths)
        self.jump_class = [_ALU_CLASS if ins.opcode & 0x07 in (o.ALU, o.ALU64) else
                           _CONDITIONAL_CLASS if ins.is_jump and ins.opcode & 0xF0 not in (o.JA, o.JCOND) else
                           _JUMP_CLASS if ins.opcode & 0x07 in (o.JMP, o.JMP32) else 0 for ins in self.code]
        self.targets = [_target if ins.is_jump and (_target := self.layout.slot_target(i, ins.jump_offset)) is not None
                        else -1 for i, ins in enumerate(self.code)]
        #: ALU instructions with a fast path (see alu)
        self.alu_fast = [_alu_fast(ins) for ins in self.code]
        self.imms = [s.constant(ins.imm if ins.opcode & 0x07 == o.ALU64 else ins.imm & sc.U32) for ins in self.code]
        if self.kind in _TARGETED:
            from pybpf.verifier.btf_pointers import find_target  # (BTF: for these types only)

            self.target = find_target(self.kernel_types(), self.kind, *self.attach)
        self.live = self.layout.live_registers(_helper_params)
        # more prune points, as this kernel's check_cfg marks them: after a call; a
        # bpf-to-bpf call or a callback's address, the instruction after it, and the callee
        self.layout.prune_points.update(self.layout.starts[1:])
        for index, ins in enumerate(self.code):
            if ins.opcode == o.JMP | o.CALL:
                self.layout.prune_points.add(index + 1)
            if ins.opcode == o.JMP | o.JCOND:
                self.may_gotos.add(index)
            if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_HELPER and _calls_back(ins.imm):
                self.callback_calls.add(index)
                self.layout.prune_points.add(index)
            if (ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO) or (ins.is_lddw
                                                                               and ins.src == o.PSEUDO_FUNC):
                self.layout.prune_points.update((index, index + 1))
        self.checkpoints = self.callback_calls | self.may_gotos
        frame = s.Frame([s.Reg() for _ in range(11)], subprog=0)
        frame.regs[1] = s.Reg(s.CTX, sc.const(0))
        frame.regs[10] = s.Reg(s.STACK, sc.const(0), frame=0)
        pending: list[tuple[int, s.State, int]] = [(0, s.State([frame]), 0)]
        while pending:
            index, state, came_from = pending.pop()
            if self.log_level and came_from >= 0 and index:
                self.result.log.append(f"from {self.layout.slots[came_from]} to {self.layout.slots[index]}: "
                                       f"{self.describe(state)}")
            self.walk(index, state, pending)
        self.check_stack_depth()
        self.check_dead_last_function()
        self.result.stack_depths = {self.layout.starts.index(f): d for f, d in self.depths.items()}
        return self.result

    def check_map_fields(self) -> None:
        """The kernel's ``check_map_prog_compatibility``, before any path is walked: a
        socket filter or tracing program may not use a map whose values hold a
        ``bpf_spin_lock``, a tracing program one whose values hold a ``bpf_timer``."""
        for ins in self.code:
            if not (ins.is_lddw and ins.src in (o.PSEUDO_MAP_FD, o.PSEUDO_MAP_VALUE)):
                continue
            info = self.maps.get(ins.imm & 0xFFFF_FFFF)
            if info is None:
                continue
            if info.spin_lock >= 0 and self.kind == ProgramType.SOCKET_FILTER:
                raise Refused("socket filter progs cannot use bpf_spin_lock yet", None, errno=errno.EINVAL)
            if info.spin_lock >= 0 and self.kind in _TRACING_TYPES:
                raise Refused("tracing progs cannot use bpf_spin_lock yet", None, errno=errno.EINVAL)
            if info.timer >= 0 and self.kind in _TRACING_TYPES:
                raise Refused("tracing progs cannot use bpf_timer yet", None, errno=errno.EINVAL)

    def kernel_types(self) -> BTF:
        """The kernel BTF that BTF pointers are typed from (the running kernel's, read
        when first needed)."""
        if self.kernel is None:
            from pybpf.verifier.btf_pointers import kernel_btf

            self.kernel = kernel_btf()
        return self.kernel

    def walk(self, index: int, state: s.State, pending: list) -> None:
        """Verify one path from ``index`` until it exits, is pruned, or splits."""
        layout, result, code, prune_points = self.layout, self.result, self.code, self.layout.prune_points
        jump_class, step, log_level, conditional = self.jump_class, self.step, self.log_level, self.conditional
        alu_fast, imms, scalar = self.alu_fast, self.imms, s.SCALAR
        if log_level:
            from pybpf.isa.disassembler import format_instruction  # (for a log only)
        self.current = state
        while True:
            self.index = index
            result.processed += 1
            if result.processed > INSN_LIMIT:
                raise Refused(f"BPF program is too large. Processed {INSN_LIMIT + 1} insn", index, errno=errno.E2BIG)
            if index in prune_points and self.visit(index, state):
                return
            ins = code[index]
            if log_level:
                result.log.append(f"{layout.slots[index]}: ({ins.opcode:02x}) {format_instruction(ins)}")
            kind = jump_class[index]
            if kind == _ALU_CLASS:     # most instructions: scalar arithmetic, done here
                fast = alu_fast[index]
                regs = state.frames[-1].regs
                if fast == _MOV_IMM:
                    regs[ins.dst] = imms[index]
                    index += 1
                    continue
                if fast == _BY_REG or fast == _BY_IMM:
                    dst = regs[ins.dst]
                    src = regs[ins.src] if fast == _BY_REG else imms[index]
                    if dst.type == scalar == src.type:
                        a, b = dst.var, src.var
                        op, is64 = ins.opcode & 0xF0, ins.opcode & 0x07 == o.ALU64
                        if a[0] == a[1] and b[0] == b[1]:
                            regs[ins.dst] = s.constant(sc.concrete(op, a[0], b[0], is64))
                        else:
                            regs[ins.dst] = s.Reg(scalar, sc.alu(op, a, b, is64))
                        index += 1
                        continue
                self.alu(ins, state)
                index += 1
                continue
            if kind:
                self.jumps += 1
                if kind == _CONDITIONAL_CLASS:
                    index = conditional(index, ins, state, pending)
                    continue
            nxt = step(index, ins, state, pending)
            if nxt is None:
                self.finish(state)
                return
            index = nxt

    def visit(self, index: int, state: s.State) -> bool:
        """Prune against the states seen at ``index``; record this one. True: pruned."""
        may_goto = False
        if index in self.checkpoints:
            if index in self.callback_calls:
                return self.visit_callback_call(index, state, self.kept_at(index))
            may_goto = True
        # as the kernel: a new state is kept only after 2 jumps and 8 instructions since the
        # last one, and inside a loop under way here only after 20 jumps or 100 instructions
        jumps, insns = self.jumps - self.last_jumps, self.result.processed - self.last_processed
        open_here = self.open.get(index)
        keep = jumps >= 2 and insns >= 8 and (not open_here or jumps >= 20 or insns >= 100)
        done = self.done.get(index)
        if not (open_here or keep or done or may_goto):
            return False
        # each caller frame waits at its call instruction; the registers live there count
        frames = state.frames
        live = (tuple(self.live[frames[n + 1].callsite] for n in range(len(frames) - 1)) + (self.live[index],)
                if len(frames) > 1 else (self.live[index],))
        consts = _constants(state, live)
        if may_goto:           # a deeper iteration within an earlier one adds nothing
            if self.kept_at(index).scan(state, live, frozenset(consts), True):
                self.finish(state)
                return True
            keep = True
        # a state equal to one still being explored on this path: a loop that never ends
        # (only those with the same constants can be: a loop counter tells states apart)
        key = None
        for snap in open_here.get(consts, ()) if open_here is not None else ():
            if snap.state.may_goto_depth == state.may_goto_depth:
                key = key or state.key(live)
                if snap.identity() == key:
                    raise Refused(f"infinite loop detected at insn {self.layout.slots[index]}", index,
                                  errno=errno.EINVAL)
        if done and self.scan(done, state, live, frozenset(consts), may_goto):
            if self.log_level > 1:
                self.result.log.append(f"{self.layout.slots[index]}: safe")
            self.finish(state)
            return True
        if keep:                # (at a checkpoint, into the KeptStates made above)
            self.keep(index, state, self.visited.setdefault(index, []), live, consts, key)
        return False

    def kept_at(self, index: int) -> KeptStates:
        """The snapshots kept at checkpoint ``index``."""
        from pybpf.verifier.kept import KeptStates  # (checkpoints: callbacks, may_goto)

        seen = self.visited.get(index)
        if seen is None:
            seen = self.visited[index] = KeptStates()
        assert isinstance(seen, KeptStates)
        return seen

    def visit_callback_call(self, index: int, state: s.State, seen: KeptStates) -> bool:
        """A helper that calls a callback, reached again after the callback ran: pruned
        when its state lies within one seen here before (explored or not), so the
        callback is iterated until the caller's state stops changing (the kernel's
        ``calls_callback`` rule); every state here is kept."""
        frames = state.frames
        live = tuple(self.live[frames[n + 1].callsite] for n in range(len(frames) - 1)) + (self.live[index],)
        consts = _constants(state, live)
        if seen.scan(state, live, frozenset(consts), False):
            self.finish(state)
            return True
        self.keep(index, state, seen, live, consts)
        return False

    @staticmethod
    def scan(snaps: list[Snapshot], state: s.State, live: tuple[int, ...], consts: frozenset, checkpoint: bool,
             other_depth: bool = False) -> bool:
        """Whether one of ``snaps`` contains ``state`` (whose live registers are ``live``,
        its constants ``consts``; ``other_depth``: only snapshots of another may_goto
        depth count); those compared in vain count a miss, and one that misses far more
        often than it hits is dropped, as the kernel evicts states (3 misses per hit; 64
        at a may_goto or callback call while still explored)."""
        hit, depth = False, state.may_goto_depth
        if checkpoint:       # one pass: compare until a hit, and weigh every snapshot's counts
            dropped = False
            for snap in snaps:
                kept = snap.kept         # also kept at the checkpoint: its counts settled
                if kept is not None:
                    kept.settle(snap)
                if hit:
                    pass
                elif ((not other_depth or snap.state.may_goto_depth != depth) and snap.consts <= consts
                        and snap.state.contains(state, live)):
                    snap.hits += 1
                    hit = True
                else:
                    snap.misses += 1
                if kept is not None:
                    kept.reschedule(snap)
                n = 64 if snap.branches else 3
                if snap.misses > snap.hits * n + n:
                    dropped = True
            if dropped:
                snaps[:] = [snap for snap in snaps if snap.misses <= snap.hits * (n := 64 if snap.branches else 3) + n]
            return hit
        over = False
        for snap in snaps:
            if ((not other_depth or snap.state.may_goto_depth != depth) and snap.consts <= consts
                    and snap.state.contains(state, live)):
                snap.hits += 1
                hit = True
                break
            snap.misses += 1
            over = over or snap.misses > snap.hits * 3 + 3
        if over:
            snaps[:] = [snap for snap in snaps if snap.misses <= snap.hits * 3 + 3]
        return hit

    def keep(self, index: int, state: s.State, seen: list[Snapshot] | KeptStates, live: tuple[int, ...],
             consts: tuple, key: tuple | None = None) -> None:
        """Record ``state`` at ``index`` as a snapshot whose continuations are explored
        (``live``: its live registers; ``consts``, ``key``: its constants and, when already
        known, its identity over them)."""
        result = self.result
        self.last_jumps, self.last_processed = self.jumps, result.processed
        snap = Snapshot(state.copy(), state.parent, index, live, consts=frozenset(consts), const_key=consts, key=key)
        snap.state.parent = None
        self.open.setdefault(index, {}).setdefault(consts, []).append(snap)
        state.parent = snap
        seen.append(snap)
        result.total_states += 1
        result.peak_states = max(result.peak_states, result.total_states)
        result.max_states_per_insn = max(result.max_states_per_insn, len(seen))

    def last_origin(self, refused: Refused) -> tuple[int, str] | None:
        """(slot, sentence) saying where the register a refusal names was made."""
        head = refused.message.split()[0]
        if not head[1:].isdigit():
            return None
        reg = self.current.regs[int(head[1:])]
        if reg.origin < 0:
            return None
        slot = self.layout.slots[reg.origin]
        made = self.code[reg.origin]
        made_by = (helper_name(made.imm) or "a helper") if made.opcode == o.JMP | o.CALL else "the load"
        return slot, (f"{head.lower()} came from {made_by} at instruction {slot} and may be NULL here: "
                      f"compare it with 0 first (if (!{head.lower()}) ...)")

    def finish(self, state: s.State) -> None:
        """A path ended: its ancestors may now be complete."""
        snap = state.parent
        while snap is not None:
            snap.branches -= 1
            if snap.branches:
                break
            if snap.kept is not None:      # its limit is now 3 misses per hit
                snap.kept.settle(snap)
                snap.kept.reschedule(snap)
            here = self.open[snap.index]
            alike = here[snap.const_key]
            alike.remove(snap)
            if not alike:
                del here[snap.const_key]
                if not here:
                    del self.open[snap.index]
            self.done.setdefault(snap.index, []).append(snap)
            snap = snap.parent

    def fork(self, state: s.State) -> s.State:
        copy = state.copy()
        if state.parent is not None:
            state.parent.branches += 1
        return copy

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def note_depth(self, state: s.State, frame: int, offset: int) -> None:
        subprog = state.frames[frame].subprog
        self.depths[subprog] = max(self.depths.get(subprog, 0), -offset)

    def describe(self, state: s.State) -> str:
        parts = []
        for number, reg in enumerate(state.regs):
            if reg.type != s.NOT_INIT:
                parts.append(f"R{number}={reg.describe()}")
        for index, slot in sorted(state.frame.stack.items()):
            if slot.spilled is not None:
                parts.append(f"fp-{8 * (index + 1)}={slot.spilled.describe()}")
            elif slot.kinds != s.INVALID * 8:
                parts.append(f"fp-{8 * (index + 1)}={slot.kinds}")
        return " ".join(parts)

    # -- one instruction --------------------------------------------------------------

    def read(self, state: s.State, regno: int) -> s.Reg:
        reg = state.regs[regno]
        if reg.type == s.NOT_INIT:
            raise Refused(f"R{regno} !read_ok", self.index)
        return reg

    def write_check(self, regno: int) -> None:
        if regno == o.R10:
            raise Refused("frame pointer is read only", self.index)

    def step(self, index: int, ins: Instruction, state: s.State, pending: list) -> int | None:
        """One instruction that is neither ALU nor a conditional jump (the walk does those)."""
        kind = ins.opcode & 0x07
        if ins.is_lddw:
            self.lddw(index, ins, state)
        elif kind == o.LD:
            self.legacy_load(ins, state)
        elif kind == o.LDX:
            self.read(state, ins.src)
            self.write_check(ins.dst)
            size = o.SIZE_BYTES[o.size(ins.opcode)]
            result = Access(self, state, ins.src, ins.off, size, False).run()
            if o.mode(ins.opcode) == o.MEMSX and result.type == s.SCALAR:
                result = s.scalar(sc.sign_extend(result.var, 8 * size))
            state.regs[ins.dst] = result
        elif kind == o.ST:
            self.read(state, ins.dst)
            Access(self, state, ins.dst, ins.off, o.SIZE_BYTES[o.size(ins.opcode)], True,
                   s.constant(ins.imm)).run()
        elif kind == o.STX:
            self.store(ins, state)
        else:
            return self.jump(index, ins, state, pending)
        return index + 1

    def store(self, ins: Instruction, state: s.State) -> None:
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        if o.mode(ins.opcode) != o.ATOMIC or ins.imm == o.STORE_REL:
            value = self.read(state, ins.src)
            self.read(state, ins.dst)
            Access(self, state, ins.dst, ins.off, size, True, value).run()
            return
        if ins.imm == o.LOAD_ACQ:
            self.read(state, ins.src)
            self.write_check(ins.dst)
            state.regs[ins.dst] = Access(self, state, ins.src, ins.off, size, False).run()
            return
        self.read(state, ins.src)
        base = self.read(state, ins.dst)
        if ins.imm == o.CMPXCHG:
            self.read(state, 0)
        if base.type in (s.CTX, s.PKT, s.PKT_META):
            raise Refused(f"BPF_ATOMIC stores into R{ins.dst} {base.type} is not allowed", self.index)
        Access(self, state, ins.dst, ins.off, size, False).run()
        Access(self, state, ins.dst, ins.off, size, True, s.scalar()).run()
        fetched = s.scalar(sc.UNKNOWN if size == 8 else sc.unsigned_range(0, sc.U32))
        if ins.imm == o.CMPXCHG:
            state.regs[0] = fetched
        elif ins.imm & o.FETCH:
            self.write_check(ins.src)
            state.regs[ins.src] = fetched

    def lddw(self, index: int, ins: Instruction, state: s.State) -> None:
        self.write_check(ins.dst)
        if ins.src == o.PSEUDO_IMM64:
            state.regs[ins.dst] = s.constant(ins.imm)
            return
        if ins.src in (o.PSEUDO_MAP_FD, o.PSEUDO_MAP_VALUE):
            info = self.maps.get(ins.imm & 0xFFFF_FFFF)
            if info is None:
                raise Refused(f"fd {ins.imm & 0xFFFF_FFFF} is not pointing to valid bpf_map", index, errno=errno.EBADF)
            if ins.src == o.PSEUDO_MAP_FD:
                state.regs[ins.dst] = s.Reg(s.MAP_PTR, sc.const(0), map=info)
            else:
                offset = ins.imm >> 32
                if offset >= info.value_size:
                    raise Refused(f"invalid access to map value pointer, value_size={info.value_size} off={offset}",
                                  index, errno=errno.EINVAL)
                state.regs[ins.dst] = s.Reg(s.MAP_VALUE, sc.const(0), off=offset, map=info,
                                            id=self.new_id() if info.spin_lock >= 0 else 0)
            return
        if ins.src == o.PSEUDO_FUNC:
            if not self.func_info:
                raise Refused("missing btf func_info", index,
                              "a callback's address needs the program's BTF function info (compile with -g)",
                              errno=errno.EINVAL)
            target = self.layout.slot_target(index, ((ins.imm & 0xFFFF_FFFF) ^ 0x8000_0000) - 0x8000_0000)
            state.regs[ins.dst] = s.Reg(s.FUNC, sc.const(0), size=target)
            return
        raise Refused(f"lddw pseudo source {ins.src} (BTF ids, map indexes) is not supported by the vm's verifier",
                      index, errno=errno.EINVAL)

    def legacy_load(self, ins: Instruction, state: s.State) -> None:
        if self.kind not in _SKB_LD:
            raise Refused("BPF_LD_[ABS|IND] instructions not allowed for this program type", self.index,
                          errno=errno.EINVAL)
        self.check_leak(state, "BPF_LD_[ABS|IND]")
        if self.read(state, 6).type != s.CTX:
            raise Refused("at the time of BPF_LD_ABS|IND R6 != pointer to skb", self.index, errno=errno.EINVAL)
        if o.mode(ins.opcode) == o.IND:
            self.read(state, ins.src)
        for regno in range(1, 6):
            state.regs[regno] = s.Reg()
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        state.regs[0] = s.scalar(sc.unsigned_range(0, (1 << (8 * size)) - 1))

    # -- ALU --------------------------------------------------------------------------

    def alu(self, ins: Instruction, state: s.State) -> None:
        """An ALU instruction the walk's fast path (scalar with scalar or a valid
        immediate, moves of an immediate) did not finish: a register move, shared unless
        a scalar needs an id first, or the general case."""
        if self.alu_fast[self.index] == _MOV_REG:
            regs = state.frames[-1].regs
            src = regs[ins.src]
            if src.type != s.NOT_INIT and (src.type != s.SCALAR or src.id or src.var[0] == src.var[1]):
                regs[ins.dst] = src
                return
        self.alu_general(ins, state)

    def alu_general(self, ins: Instruction, state: s.State) -> None:
        opcode = ins.opcode
        op, is64, by_reg = opcode & 0xF0, opcode & 0x07 == o.ALU64, opcode & 0x08 == o.X
        regs = state.frames[-1].regs
        self.write_check(ins.dst)
        if op == o.MOV:
            if not by_reg:
                regs[ins.dst] = s.constant(ins.imm if is64 else ins.imm & sc.U32)
                return
            src = self.read(state, ins.src)
            if ins.off:          # movsx
                if src.is_pointer:
                    raise Refused(f"R{ins.src} sign-extension part of pointer", self.index)
                value = sc.sign_extend(src.var, ins.off)
                regs[ins.dst] = s.scalar(value if is64 else sc.low32(value))
                return
            if not is64:
                regs[ins.dst] = s.scalar(sc.low32(src.var) if src.type == s.SCALAR else sc.unsigned_range(0, sc.U32))
                return
            if src.type == s.SCALAR and not src.var.is_const and not src.id:
                src = regs[ins.src] = src.but(id=self.new_id())
            regs[ins.dst] = src
            return
        dst = self.read(state, ins.dst)
        if op in (o.NEG, o.END):
            if dst.is_pointer:
                regs[ins.dst] = s.scalar()
                return
            regs[ins.dst] = s.scalar(self.unary(op, ins, dst.var, is64))
            return
        if by_reg:
            src = self.read(state, ins.src)
        else:
            if op in (o.DIV, o.MOD) and ins.imm == 0:
                raise Refused("div by zero", self.index, errno=errno.EINVAL)
            if op in (o.LSH, o.RSH, o.ARSH) and not 0 <= ins.imm < (64 if is64 else 32):
                raise Refused(f"invalid shift {ins.imm}", self.index, errno=errno.EINVAL)
            src = s.constant(ins.imm if is64 else ins.imm & sc.U32)
        if dst.is_pointer or src.is_pointer:
            if by_reg and src.type == s.SCALAR:        # the offset's exact value matters
                self.mark_precise(ins.src)
            elif by_reg and dst.type == s.SCALAR:
                self.mark_precise(ins.dst)
            regs[ins.dst] = self.pointer_alu(ins, op, is64, dst, src)
            return
        regs[ins.dst] = s.scalar(sc.alu(op, dst.var, src.var, is64))

    @staticmethod
    def unary(op: int, ins: Instruction, value: sc.Scalar, is64: bool) -> sc.Scalar:
        if op == o.NEG:
            return sc.alu(o.SUB, sc.const(0), value, is64)
        bits = ins.imm
        mask = (1 << bits) - 1
        if value.is_const:
            v = value.value & mask
            if ins.cls == o.ALU64 or o.source(ins.opcode) == o.TO_BE:
                v = int.from_bytes(v.to_bytes(bits // 8, "little"), "big")
            return sc.const(v)
        if ins.cls == o.ALU and o.source(ins.opcode) == o.TO_LE:
            return sc.alu(o.AND, value, sc.const(mask), True)
        return sc.unsigned_range(0, mask)

    def pointer_alu(self, ins: Instruction, op: int, is64: bool, dst: s.Reg, src: s.Reg) -> s.Reg:
        regno = ins.dst
        if dst.is_pointer and src.is_pointer:
            if op == o.SUB:
                return s.scalar()
            raise Refused(f"R{regno} pointer {_ALU_NAMES[op]} pointer prohibited", self.index)
        pointer, offset = (dst, src) if dst.is_pointer else (src, dst)
        if not is64:
            if op == o.SUB:     # a privileged loader may: the result is a meaningless scalar
                return s.scalar()
            raise Refused(f"R{regno} 32-bit pointer arithmetic prohibited", self.index)
        if pointer.maybe_null:
            raise Refused(f"R{regno} pointer arithmetic on {pointer.type} prohibited, null-check it first",
                          self.index)
        if pointer.type in (s.MAP_PTR, s.PKT_END, s.FUNC, s.SOCK, s.SOCK_COMMON):
            raise Refused(f"R{regno} pointer arithmetic on {pointer.type} prohibited", self.index)
        if op == o.SUB and src.is_pointer:
            raise Refused(f"R{regno} tried to subtract pointer from scalar", self.index)
        if op in (o.AND, o.OR, o.XOR):
            raise Refused(f"R{regno} bitwise operator {_ALU_NAMES[op]} on pointer prohibited", self.index)
        if op not in (o.ADD, o.SUB):
            raise Refused(f"R{regno} pointer arithmetic with {_ALU_NAMES[op]} operator prohibited", self.index)
        value = offset.var
        if value.is_const:
            v = sc.signed(value.value)
            if v >= MAX_VAR_OFF or v <= -MAX_VAR_OFF:
                raise Refused(f"math between {pointer.type} pointer and {v} is not allowed", self.index,
                              errno=errno.EINVAL)
        elif value.smin == sc.S64_MIN:
            raise Refused(f"math between {pointer.type} pointer and register with unbounded min value is not "
                          "allowed", self.index,
                          errno=errno.EINVAL)
        elif value.smin >= MAX_VAR_OFF or value.smin <= -MAX_VAR_OFF:
            raise Refused(f"value {value.smin} makes {pointer.type} pointer be out of bounds", self.index,
                          errno=errno.EINVAL)
        result = pointer.copy()
        if value.is_const:
            delta = sc.signed(value.value)
            result.off += delta if op == o.ADD else -delta
            if abs(result.off) >= MAX_VAR_OFF:
                raise Refused(f"value {result.off} makes {pointer.type} pointer be out of bounds", self.index,
                          errno=errno.EINVAL)
            return result
        result.var = sc.alu(op, pointer.var, value, True)
        if result.var.smin <= -MAX_VAR_OFF or result.var.smin >= MAX_VAR_OFF:
            raise Refused(f"value {result.var.smin} makes {pointer.type} pointer be out of bounds", self.index,
                          errno=errno.EINVAL)
        if pointer.type in s.PACKETS:
            result.id, result.range = self.new_id(), 0
        return result

    # -- jumps, calls, exit -----------------------------------------------------------

    def jump(self, index: int, ins: Instruction, state: s.State, pending: list) -> int | None:
        op = o.op(ins.opcode)
        if op == o.JA:
            return self.layout.slot_target(index, ins.jump_offset)
        if op == o.EXIT:
            return self.exit(state)
        if op == o.CALL:
            return self.call(index, ins, state, pending)
        if op == o.JCOND:
            return self.may_goto(index, ins, state, self.targets[index], pending)
        return self.conditional(index, ins, state, pending)

    def conditional(self, index: int, ins: Instruction, state: s.State, pending: list) -> int:
        """A conditional jump: decided, or a split whose jump side is pushed on ``pending``."""
        op, target = ins.opcode & 0xF0, self.targets[index]
        regs = state.frames[-1].regs
        dst = regs[ins.dst]
        if dst.type == s.NOT_INIT:
            self.read(state, ins.dst)
        is64 = ins.opcode & 0x07 == o.JMP
        if ins.opcode & 0x08 == o.X:
            src = regs[ins.src]
            if src.type == s.NOT_INIT:
                self.read(state, ins.src)
            outcome = self.decide(op, is64, dst, src.type, src.var, src)
        elif dst.type == s.SCALAR:
            value = sc.const(ins.imm if is64 else ins.imm & sc.U32)
            outcome = sc.branch_taken(op, dst.var, value) if is64 else sc.branch_taken32(op, dst.var, value)
        else:
            outcome = self.decide(op, is64, dst, s.SCALAR, sc.const(ins.imm if is64 else ins.imm & sc.U32), None)
        if outcome is None:                # the state is copied only for a real split
            taken_state = self.fork(state)
            outcome = self.condition(op, ins, state, taken_state, True)
            if outcome is None:
                fall = self.condition(sc.INVERSE.get(op, op), ins, state, state, op != o.JSET)
                if fall is False:          # the fall-through is impossible after all
                    state.frames, state.refs = taken_state.frames, taken_state.refs
                    self.finish(taken_state)
                    return target
                pending.append((target, taken_state, index))
                return index + 1
            self.finish(taken_state)
        # decided: one side only, the other never runs
        for regno in (ins.dst, ins.src) if ins.opcode & 0x08 == o.X else (ins.dst,):
            if regs[regno].type == s.SCALAR:
                self.mark_precise(regno)
        return target if outcome else index + 1

    def may_goto(self, index: int, ins: Instruction, state: s.State, target: int | None,
                 pending: list) -> int | None:
        """``may_goto``: as the kernel, the jump (out of the loop) is followed first and the
        fall-through (one more iteration) is explored later, one level deeper, with every
        scalar that changed since this path last passed here widened to unknown: the
        loop's states then repeat and are pruned (see :meth:`visit`)."""
        if ins.src or ins.dst or ins.imm or ins.cls != o.JMP:
            raise Refused(f"invalid may_goto imm {ins.imm}", index, errno=errno.EINVAL)
        again = self.fork(state)
        again.may_goto_depth += 1
        self.widen_since(index, again, exclude=state.parent)
        pending.append((index + 1, again, index))
        return target

    def condition(self, op: int, ins: Instruction, state: s.State, into: s.State, holds: bool) -> bool | None:
        """Narrow ``into`` by the comparison of ``ins`` (with operator ``op``) holding
        (``holds``; False for the fall-through of JSET, which only says bits are clear).
        True/False when the comparison is decided; None when both ways are possible."""
        regs = into.regs
        by_reg = o.source(ins.opcode) == o.X
        is64 = ins.cls == o.JMP
        dst = regs[ins.dst]
        src = regs[ins.src] if by_reg else s.constant(ins.imm if is64 else ins.imm & sc.U32)
        if dst.is_pointer or src.is_pointer:
            taken = self.pointer_decided(op, dst, src, is64)
            if taken is None:
                self.pointer_condition(op, dst, src, into, is64)
            return taken
        if not holds:         # JSET's fall-through: the bits of a constant are clear
            if src.var.is_const:
                cleared = sc.make(dst.var.umin, dst.var.umax, dst.var.smin, dst.var.smax,
                                  sc.tn.Tnum(dst.var.tnum.value & ~src.var.value,
                                             dst.var.tnum.mask & ~src.var.value), *dst.var.bounds32)
                taken = sc.branch_taken(o.JSET, dst.var, src.var)
                if taken is True:
                    return False
                if cleared is not None:
                    self.set_scalar(into, ins.dst, cleared)
            return None
        a, b = dst.var, src.var
        taken = sc.branch_taken(op, a, b) if is64 else sc.branch_taken32(op, a, b)
        if taken is not None:
            return taken
        narrowed = sc.refine(op, a, b) if is64 else sc.refine32(op, a, b)
        if narrowed is None:
            return False
        self.set_scalar(into, ins.dst, narrowed[0])
        if by_reg:
            self.set_scalar(into, ins.src, narrowed[1])
        return None

    def set_scalar(self, state: s.State, regno: int, value: sc.Scalar) -> None:
        """``regno`` (and every copy of it) is ``value``."""
        reg = state.regs[regno]
        if reg.id:
            ident = reg.id
            state.update(lambda other: other.but(var=value) if other.type == s.SCALAR and other.id == ident else None)
        if state.regs[regno].var is not value:
            state.regs[regno] = state.regs[regno].but(var=value)

    def decide(self, op: int, is64: bool, dst: s.Reg, src_type: str, src_var: sc.Scalar,
               src: s.Reg | None) -> bool | None:
        """Whether ``dst op src`` (``src`` None: the constant ``src_var``) certainly holds
        (True), certainly fails (False) or may go either way (None)."""
        if dst.type != s.SCALAR or src_type != s.SCALAR:
            return self.pointer_decided(op, dst, src or s.Reg(s.SCALAR, src_var), is64)
        return sc.branch_taken(op, dst.var, src_var) if is64 else sc.branch_taken32(op, dst.var, src_var)

    @staticmethod
    def pointer_decided(op: int, dst: s.Reg, src: s.Reg, is64: bool) -> bool | None:
        """A pointer compared with 0 that cannot be NULL: the comparison is decided."""
        if op in (o.JEQ, o.JNE) and (src.type == s.SCALAR) != (dst.type == s.SCALAR):
            pointer, other = (dst, src) if dst.is_pointer else (src, dst)
            if other.var.is_const and other.var.value == 0 and is64 and not pointer.maybe_null:
                # a kernel pointer not trusted may be NULL though not marked so
                if (s.is_btf(pointer.type) and pointer.type != s.TRUSTED_PTR) or pointer.type == s.UNTRUSTED_MEM:
                    return None
                return op == o.JNE
        return None

    def pointer_condition(self, op: int, dst: s.Reg, src: s.Reg, into: s.State, is64: bool) -> None:
        """Narrow ``into`` by an undecided pointer comparison: a NULL check, or a packet
        range check."""
        if op in (o.JEQ, o.JNE) and (src.type == s.SCALAR) != (dst.type == s.SCALAR):
            pointer, other = (dst, src) if dst.is_pointer else (src, dst)
            if other.var.is_const and other.var.value == 0 and is64 and pointer.maybe_null:
                self.mark_null(into, pointer, is_null=(op == o.JEQ))
            return
        if is64 and dst.is_pointer and src.is_pointer:
            self.packet_range(op, dst, src, into)

    def mark_null(self, state: s.State, pointer: s.Reg, is_null: bool) -> None:
        """A NULL check of a maybe-NULL pointer: every copy (same id) learns the outcome."""
        ident, ref = pointer.id, pointer.ref

        def checked(reg: s.Reg) -> s.Reg | None:
            if not reg.maybe_null or reg.id != ident:
                return None
            if is_null:
                return reg.but(type=s.SCALAR, var=sc.const(0), off=0, map=None, ref=0, id=0, btf=None)
            # the id stays with a held reference, and with a map value holding a lock (it
            # tells bpf_spin_unlock which lock)
            keep = reg.ref or (reg.map is not None and reg.map.spin_lock >= 0 and reg.type == s.MAP_VALUE + s.OR_NULL)
            return reg.but(type=s.not_null(reg.type), id=reg.id if keep else 0)
        state.update(checked)
        if is_null and ref and ref == ident:     # an acquired object that is not there
            state.refs.pop(ref, None)

    def packet_range(self, op: int, dst: s.Reg, src: s.Reg, state: s.State) -> None:
        """``pkt + N`` compared with ``pkt_end`` (either way round): on the side where
        it is at most the end, every copy of the packet pointer may access N bytes."""
        if dst.type in s.PACKETS and src.type == s.PKT_END:
            pointer, safe_ops = dst, (o.JLE, o.JLT)
        elif src.type in s.PACKETS and dst.type == s.PKT_END:
            pointer, safe_ops = src, (o.JGE, o.JGT)
        elif dst.type == s.PKT_META and src.type == s.PKT:
            pointer, safe_ops = dst, (o.JLE, o.JLT)
        elif src.type == s.PKT_META and dst.type == s.PKT:
            pointer, safe_ops = src, (o.JGE, o.JGT)
        else:
            return
        if op not in safe_ops or pointer.off < 0 or pointer.var.umax + pointer.off > 0xFFFF:
            return
        # pkt + N < end leaves N + 1 bytes; pkt + N <= end leaves N
        strict = op == (o.JLT if pointer is dst else o.JGT)
        new_range = pointer.off + strict
        kind, ident = pointer.type, pointer.id
        state.update(lambda reg: reg.but(range=max(reg.range, new_range))
                     if reg.type == kind and reg.id == ident else None)

    def exit(self, state: s.State) -> int | None:
        frame = state.frame
        # a function's r0 goes back to its caller as it is (unset too: the compiler drops
        # a return value nobody reads); a callback's and the program's must be set
        r0 = state.regs[0] if len(state.frames) > 1 and not frame.callback else self.read(state, 0)
        if len(state.frames) > 1:
            if r0.type == s.STACK and r0.frame == len(state.frames) - 1:
                raise Refused("cannot return stack pointer to the caller frame", self.index, errno=errno.EINVAL)
            if frame.callback:       # back to the helper's call, which may call it again
                self.check_return(r0, "callback return", (0, 1))
                state.frames.pop()
                self.widen_since(frame.callsite, state)
                return frame.callsite
            state.frames.pop()
            caller = state.regs
            for regno in range(1, 6):
                caller[regno] = s.Reg()
            caller[0] = r0
            return frame.callsite + 1
        self.check_leak(state, "BPF_EXIT instruction in main prog")
        if frame.async_callback:
            self.check_return(r0, "async callback return", (0, 0))
        elif self.return_range is not None:
            self.check_return(r0, "program exit", self.return_range)
        return None

    def check_return(self, r0: s.Reg, where: str, allowed: tuple[int, int]) -> None:
        low, high = allowed
        if r0.type != s.SCALAR:
            raise Refused(f"At {where} the register R0 is not a known value ({r0.type})", self.index,
                          errno=errno.EINVAL)
        self.mark_precise(0)
        if r0.var.smin < low or r0.var.smax > high:
            bounds = [f"smin={r0.var.smin}"] if r0.var.smin > sc.S64_MIN else []
            bounds += [f"smax={r0.var.smax}"] if r0.var.smax < sc.S64_MAX else []
            raise Refused(f"At {where} the register R0 has {' '.join(bounds) or 'unknown scalar value'} should "
                          f"have been in [{low}, {high}]", self.index, errno=errno.EINVAL)

    def mark_precise(self, regno: int) -> None:
        """The exact value of ``regno`` at the current instruction matters (a precision
        mark: that register, and what it came from, is never widened)."""
        mask = self.sinks.get(self.index, 0)
        if not mask >> regno & 1:
            self.sinks[self.index] = mask | 1 << regno
            self.precise = None

    def precise_masks(self, state: s.State, index: int) -> tuple[int, ...]:
        """The precise registers of each frame of ``state`` at ``index``."""
        if self.precise is None:
            self.precise = self.layout.precise_registers(self.sinks)
        frames = state.frames
        return tuple(self.precise[frames[n + 1].callsite] for n in range(len(frames) - 1)) + (self.precise[index],)

    def widen_since(self, index: int, state: s.State, exclude: Snapshot | None = None) -> None:
        """Widen ``state`` against the last state this path had at ``index`` (the kernel's
        find_prev_entry + widen_imprecise_scalars, for may_goto and callback loops)."""
        previous = next((snap for snap in reversed(self.visited.get(index, ()))
                         if snap is not exclude and snap.branches and _same_callsites(snap.state, state)), None)
        if previous is not None:
            _widen(previous.state, state, self.precise_masks(state, index))

    def check_leak(self, state: s.State, what: str) -> None:
        """The kernel's ``check_resource_leak``: every reference still held is named, and
        ``what`` (an exit, a tail call, a legacy packet load) is refused; so is each of
        them while a ``bpf_spin_lock`` is held."""
        if state.lock is not None:
            raise Refused(f"{what} cannot be used inside bpf_spin_lock-ed region", self.index,
                          "the lock taken by bpf_spin_lock is not released (bpf_spin_unlock) on this path",
                          errno=errno.EINVAL)
        if not state.refs:
            return
        lines = [f"Unreleased reference id={ref} alloc_insn={self.layout.slots[where]}"
                 for ref, where in sorted(state.refs.items())]
        first = self.layout.slots[min(state.refs.values())]
        raise Refused("\n".join(lines + [f"{what} would lead to reference leak"]), self.index,
                      f"the object acquired at instruction {first} is not released on this path", errno=errno.EINVAL)

    def call(self, index: int, ins: Instruction, state: s.State, pending: list) -> int | None:
        if ins.src == o.CALL_PSEUDO:
            target = self.layout.slot_target(index, ins.imm)
            return self.enter(state, target, index, [state.regs[r].copy() for r in range(1, 6)], False)
        if ins.src == o.CALL_KFUNC:
            raise Refused("calling kernel functions is not supported by the vm's verifier", index, errno=errno.EINVAL)
        return self.helper(index, ins.imm, state, pending)

    def push_timer_callback(self, target: int, timer_map: s.MapInfo | None, pending: list) -> None:
        """A timer's callback runs later on its own: it is verified from a fresh state
        (the kernel's ``push_async_cb_state``) with the timer's map, key and value."""
        frame = s.Frame([s.Reg() for _ in range(11)], subprog=target, async_callback=True)
        frame.regs[1] = s.Reg(s.MAP_PTR, sc.const(0), map=timer_map)
        frame.regs[2] = s.Reg(s.MAP_KEY, sc.const(0), map=timer_map)
        frame.regs[3] = s.Reg(s.MAP_VALUE, sc.const(0), map=timer_map)
        frame.regs[10] = s.Reg(s.STACK, sc.const(0), frame=0)
        self.entered.add(target)
        pending.append((target, s.State([frame]), -1))

    def enter(self, state: s.State, target: int, callsite: int, args: list[s.Reg], callback: bool) -> int:
        if len(state.frames) >= MAX_CALL_FRAMES:
            raise Refused(f"the call stack of {len(state.frames) + 1} frames is too deep !", self.index,
                          errno=errno.E2BIG)
        frame = s.Frame([s.Reg() for _ in range(11)], callsite=callsite, subprog=target, callback=callback)
        frame.regs[1:6] = args
        frame.regs[10] = s.Reg(s.STACK, sc.const(0), frame=len(state.frames))
        state.frames.append(frame)
        self.entered.add(target)
        return target

    def helper(self, index: int, number: int, state: s.State, pending: list) -> int | None:
        if state.lock is not None and number != _SPIN_UNLOCK:
            raise Refused("function calls are not allowed while holding a lock", index,
                          "between bpf_spin_lock and bpf_spin_unlock only loads, stores and arithmetic may run",
                          errno=errno.EINVAL)
        name = HELPER_NAMES.get(number) if number > 0 else None
        if name is None:
            raise Refused(f"invalid func unknown#{number}", index, errno=errno.EINVAL)
        from pybpf.verifier.protos import PROTOS, prototype

        proto = prototype(number, self.kind, self.attach[0])
        if proto is None:
            if number in PROTOS:
                raise Refused(f"program of this type cannot use helper {helper_name(number)}#{number}", index,
                              errno=errno.EINVAL)
            raise Refused(f"helper {helper_name(number)}#{number} is not modelled by the vm's verifier", index,
                          errno=errno.EINVAL)
        if number in self.gpl_refused:
            raise Refused("cannot call GPL-restricted function from non-GPL compatible program", index,
                          f"{helper_name(number)} is GPL-only: the program's licence must be GPL-compatible "
                          "(\"GPL\", \"Dual BSD/GPL\", ...)", errno=errno.EINVAL)
        call = HelperCall(self, state, name, proto)
        call.check_args()
        if name == "spin_lock":
            state.lock = call.lock
        elif name == "spin_unlock":
            if state.lock is None:
                raise Refused("bpf_spin_unlock without taking a lock", index, errno=errno.EINVAL)
            if state.lock != call.lock:
                raise Refused("bpf_spin_unlock of different lock", index, errno=errno.EINVAL)
            state.lock = None
        if call.dynptr_made is not None:
            self.new_id()
            ref = self.new_id()
            state.refs[ref] = index
            frame, start = call.dynptr_made
            for offset in (start, start + 8):
                frame.stack[(-offset - 1) // 8] = s.Slot(s.DYNPTR * 8, s.Reg(s.DYNPTR_SLOT, sc.const(0), id=ref,
                                                                             ref=ref, size=offset - start))
        if call.callback is not None and name == "timer_set_callback":
            self.push_timer_callback(call.callback, call.timer_map, pending)
        elif call.callback is not None:
            # as the kernel: the callback is explored later, from a copy of this state with
            # its frame pushed; its exit comes back to this call, which may call it again
            # (bpf_loop: no more often than its loop count says)
            caller = state.frame
            if name != "loop" or caller.callback_depth < state.regs[1].var.umax:
                caller.callback_depth += 1
                inside = self.fork(state)
                self.enter(inside, call.callback, index, call.callback_args, True)
                pending.append((call.callback, inside, -1))
            caller.callback_depth = 0
        if name == "tail_call":
            self.check_leak(state, "tail_call")
        regs = state.regs
        for regno in range(1, 6):
            regs[regno] = s.Reg()
        if proto.changes_packet:
            state.update(lambda reg: reg.but(type=s.SCALAR, var=sc.UNKNOWN, id=0, range=0, off=0)
                         if reg.type in (s.PKT, s.PKT_META, s.PKT_END) else None)
        if proto.ret == "void":
            regs[0] = s.Reg()
        elif proto.ret == "map_value_or_null" and call.key_in_range:     # (an id names a lock in it)
            regs[0] = s.Reg(s.MAP_VALUE, sc.const(0), map=call.map, origin=index,
                            id=self.new_id() if call.map is not None and call.map.spin_lock >= 0 else 0)
        elif proto.ret == "map_value_or_null":
            regs[0] = s.Reg(s.MAP_VALUE + s.OR_NULL, sc.const(0), id=self.new_id(), map=call.map, origin=index)
        elif proto.ret == "dynptr_mem_or_null":      # a slice that dies with its dynptr's reference
            regs[0] = s.Reg(s.DYNPTR_MEM + s.OR_NULL, sc.const(0), id=self.new_id(),
                            ref=call.dynptr.ref if call.dynptr is not None else 0,
                            size=call.alloc_size, origin=index)
        elif proto.ret.startswith(("btf:", "btf?:", "trusted_btf:")):
            from pybpf.btf.types import Kind

            found = self.kernel_types().find(proto.ret.partition(":")[2], Kind.STRUCT)
            if found is None:
                raise Refused(f"the kernel's BTF has no struct {proto.ret.partition(':')[2]}, which "
                              f"{helper_name(number)} returns", index, errno=errno.EINVAL)
            kind = s.TRUSTED_PTR if proto.ret.startswith("trusted") else s.BTF_PTR
            pointee = s.KernelType(found.id, found.name)
            if proto.ret.startswith("btf?"):
                regs[0] = s.Reg(s.nullable(kind), sc.const(0), id=self.new_id(), btf=pointee, origin=index)
            else:
                regs[0] = s.Reg(kind, sc.const(0), btf=pointee, origin=index)
        elif proto.ret in ("ringbuf_mem_or_null", "sock_or_null", "sock_common_or_null"):
            self.new_id()           # the kernel numbers the maybe-NULL id, then the reference
            ref = self.new_id()
            state.refs[ref] = index
            kind = s.MEM if proto.ret.startswith("ringbuf") else proto.ret[:-len(s.OR_NULL)]
            regs[0] = s.Reg(kind + s.OR_NULL, sc.const(0), id=ref, ref=ref, size=call.alloc_size, origin=index)
        else:
            regs[0] = s.scalar()
        return index + 1

    def check_dead_last_function(self) -> None:
        """This kernel (6.18) fails with EFAULT ("verifier bug") when the program's last
        function was never verified (a callback of bpf_loop with no iterations: its code
        is removed as dead) while another function was: pybpf says what it will say."""
        functions = self.layout.starts[1:]
        last = functions[-1] if functions else None
        if last is None or last in self.entered or not self.entered.intersection(functions):
            return
        raise Refused(f"verifier bug: No program to jit at insn {self.layout.slots[last]} (subprog < 0)", None,
                      "the kernel removes the never-called last function as dead code and then fails to compile "
                      "the program (a bug of this kernel); move that function before the others or let it run",
                      errno=errno.EFAULT)

    def check_stack_depth(self) -> None:
        """The kernel's combined stack limit over every chain of bpf-to-bpf calls (each
        frame rounded up to 16 bytes, as for a JIT-compiled program). perf_event programs
        without tail calls run functions of 64 bytes of stack or more on a private stack,
        which does not add up; a function with a tail call may not run below 256 bytes."""
        calls: dict[int, dict[int, None]] = {}      # caller → its callees in call order
        tail_calls: set[int] = set()
        tail_call = helper_id("tail_call")
        for index, ins in enumerate(self.code):
            if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO:
                callee = self.layout.slot_target(index, ins.imm)
                if callee is not None:
                    calls.setdefault(self.layout.function_of[index], {})[callee] = None
            elif ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_HELPER and ins.imm == tail_call:
                tail_calls.add(self.layout.function_of[index])
        private = self.kind in _PRIVATE_STACK and not tail_calls

        def walk(function: int, chain: tuple[int, ...], above: int) -> None:
            if function and function in tail_calls and above >= 256:
                raise Refused(f"tail_calls are not allowed when call stack of previous frames is {above} bytes. "
                              "Too large", None)
            own = -(-self.depths.get(function, 0) // 16) * 16
            if private and own >= 64:
                own = 0
            depth = above + own
            if depth > STACK_SIZE:
                raise Refused(f"combined stack size of {len(chain)} calls is {depth}. Too large", None)
            for callee in calls.get(function, ()):
                if callee not in chain:
                    walk(callee, chain + (callee,), depth)

        walk(0, (0,), 0)


class HelperCall:
    """The arguments of one helper call checked against its prototype."""

    def __init__(self, verifier: Verifier, state: s.State, name: str, proto):
        self.v, self.state, self.name, self.proto = verifier, state, name, proto
        self.map: s.MapInfo | None = None
        self.alloc_size = 0
        self.callback: int | None = None
        self.callback_args: list[s.Reg] = []
        self.key_in_range = False
        self.memory: tuple[int, bool] | None = None   # (regno, written) awaiting its size
        #: the dynptr argument (its first slot's register), and a dynptr to set up (frame, offset)
        self.dynptr: s.Reg | None = None
        self.dynptr_made: tuple[s.Frame, int] | None = None
        #: the lock a spin_lock argument names: (map id, id of the map value pointer)
        self.lock: tuple[int, int] | None = None
        #: the map whose value holds a timer argument
        self.timer_map: s.MapInfo | None = None

    def fail(self, message: str, errno: int = errno.EACCES) -> Refused:
        return Refused(message, self.v.index, errno=errno)

    def check_args(self) -> None:
        regs = self.state.regs
        for position, kind in enumerate(self.proto.args):
            regno = position + 1
            if kind == "any?":
                continue
            reg = self.v.read(self.state, regno)
            if kind.startswith("btf"):
                self.arg_btf(regno, reg, kind)
                continue
            getattr(self, "arg_" + kind.replace("?", "_or_null"))(regno, reg)
        if self.name == "for_each_map_elem" and self.map is not None and self.map.type not in _FOR_EACH_MAPS:
            raise self.fail("callback function not allowed for map", errno=_ENOTSUPP)
        if self.map is not None:
            self.check_map()
        if self.proto.callback_args:
            self.build_callback_args(regs)

    def expect(self, regno: int, reg: s.Reg, *types: str) -> None:
        if reg.type not in types:
            raise self.fail(f"R{regno} type={reg.type} expected={', '.join(types)}")

    def arg_any(self, regno: int, reg: s.Reg) -> None:
        pass

    def arg_map(self, regno: int, reg: s.Reg) -> None:
        self.expect(regno, reg, s.MAP_PTR)
        self.map = reg.map
        if self.timer_map is not None and reg.map is not None and reg.map.id != self.timer_map.id:
            raise self.fail(f"timer pointer in R1 map_uid=0 doesn't match map pointer in R{regno} map_uid=0",
                            errno.EINVAL)
        if self.name == "tail_call" and reg.map is not None and reg.map.type != MapType.PROG_ARRAY:
            raise self.fail("expected prog array map for tail call", errno=errno.EINVAL)

    def check_map(self) -> None:
        """The kernel's ``check_map_func_compatibility``, after every argument: this map
        with this helper."""
        kind = self.map.type
        needed = _HELPER_MAPS.get(self.name)
        allowed = _MAP_HELPERS.get(kind)
        if (needed is not None and kind not in needed) or (allowed is not None and self.name not in allowed):
            number = helper_id(self.name)
            raise self.fail(f"cannot pass map_type {int(kind)} into func bpf_{self.name}#{number}", errno=errno.EINVAL)

    def memory_arg(self, regno: int, reg: s.Reg, size: int, write: bool, zero_ok: bool = False) -> None:
        readable = (s.RDONLY_BUF,) if not write else ()
        if reg.type not in (s.STACK, s.PKT, s.PKT_META, s.MAP_KEY, s.MAP_VALUE, s.MEM, s.TRUSTED_PTR, s.BUF) + readable:
            raise self.fail(f"R{regno} type={reg.type} expected=fp, pkt, pkt_meta, map_key, map_value, mem, "
                            "ringbuf_mem, buf, trusted_ptr_")
        if size <= 0:
            if not zero_ok:        # a key or value of a map without keys or values
                raise self.fail("invalid zero-sized read")
            return
        if reg.type == s.TRUSTED_PTR:        # the kernel object's bytes, read as a load would
            from pybpf.verifier.btf_pointers import object_read

            object_read(self.v, self.v.kernel_types(), reg, regno, reg.off, size, write)
            return
        Access(self.v, self.state, regno, 0, size, write, None, helper=True).run()

    def arg_key(self, regno: int, reg: s.Reg) -> None:
        info = self.map
        assert info is not None         # the map argument came first
        self.memory_arg(regno, reg, info.key_size, False)
        if info.type in (MapType.ARRAY, MapType.PERCPU_ARRAY) and reg.type == s.STACK and reg.var.is_const:
            # an array lookup with a constant key in range cannot fail
            key = constant_key(self.state.frames[reg.frame], reg.off + sc.signed(reg.var.value), info.key_size)
            self.key_in_range = key is not None and key < info.max_entries

    def arg_value(self, regno: int, reg: s.Reg) -> None:
        self.memory_arg(regno, reg, self.map.value_size, False)

    def arg_u64_out(self, regno: int, reg: s.Reg) -> None:
        """ARG_PTR_TO_FIXED_SIZE_MEM of 8 bytes the helper writes (a u64 *)."""
        self.memory_arg(regno, reg, 8, True)

    def arg_value_or_null(self, regno: int, reg: s.Reg) -> None:
        if not _is_null(reg):
            self.arg_value(regno, reg)

    def arg_btf(self, regno: int, reg: s.Reg, kind: str) -> None:
        """A pointer to a kernel struct (``btf:STRUCT``; ``btf?:STRUCT``: or NULL): the
        kernel's ``check_reg_type`` for ARG_PTR_TO_BTF_ID, with the struct matched at the
        pointer's offset (a struct nested at the start of another matches too)."""
        nullable, wanted = kind.startswith("btf?"), kind.partition(":")[2]
        if nullable and _is_null(reg):
            return
        kind = s.not_null(reg.type) if nullable else reg.type      # (the helper copes with NULL)
        if kind not in (s.BTF_PTR, s.TRUSTED_PTR, s.RCU_PTR):       # untrusted ones are not passed on
            raise self.fail(f"R{regno} type={reg.type} expected={s.BTF_PTR}, {s.TRUSTED_PTR}, {s.RCU_PTR}")
        struct = reg.btf or s.KernelType(0, "")
        if not reg.var.is_const or reg.var.value:
            raise self.fail(f"variable {reg.type}{struct.name} access var_off={reg.var.tnum} disallowed")
        from pybpf.verifier.btf_pointers import nested_struct

        if not nested_struct(self.v.kernel_types(), struct.id, reg.off, wanted):
            raise self.fail(f"R{regno} is of type {struct.name} but {wanted} is expected")

    def arg_sock_common(self, regno: int, reg: s.Reg, nullable: bool = False) -> None:
        """ARG_PTR_TO_BTF_ID_SOCK_COMMON: a socket pointer, or a BTF pointer to a struct
        with a sock_common at its start (``struct sock``, ``tcp_sock``, ...)."""
        kind = s.not_null(reg.type) if nullable else reg.type
        if (nullable and _is_null(reg)) or kind in s.SOCKETS:
            return
        if kind not in (s.BTF_PTR, s.TRUSTED_PTR):
            raise self.fail(f"R{regno} type={reg.type} expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, "
                            "trusted_ptr_")
        self.arg_btf(regno, reg, "btf?:sock_common" if nullable else "btf:sock_common")

    def arg_sock_common_or_null(self, regno: int, reg: s.Reg) -> None:
        self.arg_sock_common(regno, reg, nullable=True)

    def arg_uninit_value(self, regno: int, reg: s.Reg) -> None:
        self.memory_arg(regno, reg, self.map.value_size, True)

    def arg_mem(self, regno: int, reg: s.Reg) -> None:
        self.memory = (regno, False)

    def arg_mem_or_null(self, regno: int, reg: s.Reg) -> None:
        self.memory = None if _is_null(reg) else (regno, False)

    def arg_uninit(self, regno: int, reg: s.Reg) -> None:
        self.memory = (regno, True)

    def arg_size(self, regno: int, reg: s.Reg, zero: bool = False) -> None:
        self.expect(regno, reg, s.SCALAR)
        self.v.mark_precise(regno)
        value = reg.var
        if value.smin < 0:
            raise self.fail(f"R{regno} min value is negative, either use unsigned or 'var &= const'")
        if value.umin == 0 and not zero:
            raise self.fail(f"R{regno} invalid zero-sized read: u64=[{value.umin},{value.umax}]")
        if value.umax >= MAX_VAR_OFF:
            raise self.fail(f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
        if self.memory is not None:
            memreg, write = self.memory
            self.memory_arg(memreg, self.state.regs[memreg], value.umax, write, zero_ok=True)
        self.memory = None

    def arg_size0(self, regno: int, reg: s.Reg) -> None:
        self.arg_size(regno, reg, zero=True)

    def arg_spin_lock(self, regno: int, reg: s.Reg) -> None:
        """The kernel's ``process_spin_lock``: the ``struct bpf_spin_lock`` of a map value."""
        info = self.map_field(regno, reg, "bpf_spin_lock", "map_value, ptr_")
        self.lock = (info.id, reg.id)

    def arg_timer(self, regno: int, reg: s.Reg) -> None:
        """The kernel's ``process_timer_func``: the ``struct bpf_timer`` of a map value."""
        self.timer_map = self.map_field(regno, reg, "bpf_timer", "map_value")

    def map_field(self, regno: int, reg: s.Reg, field: str, expected: str) -> s.MapInfo:
        """A pointer to the special ``field`` of a map value, at its constant offset, in a
        map whose BTF says where it is; the map."""
        if reg.type != s.MAP_VALUE:
            raise self.fail(f"R{regno} type={reg.type} expected={expected}")
        if not reg.var.is_const:
            raise self.fail(f"R{regno} doesn't have constant offset. {field} has to be at the constant offset",
                            errno.EINVAL)
        info = reg.map
        assert info is not None, "a map value pointer names its map"
        at = dict((name, off) for name, off, _ in info.fields()).get(field, -1)
        if not info.btf:
            raise self.fail(f"map '{info.name}' has to have BTF in order to use {field}", errno.EINVAL)
        if at < 0:
            raise self.fail(f"map '{info.name}' has no valid {field}", errno.EINVAL)
        off = reg.off + sc.signed(reg.var.value)
        if off != at:
            raise self.fail(f"off {off} doesn't point to 'struct {field}' that is at {at}", errno.EINVAL)
        return info

    def arg_ctx(self, regno: int, reg: s.Reg) -> None:
        self.expect(regno, reg, s.CTX)
        if reg.off or not reg.var.is_const or reg.var.value:
            raise self.fail(f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")

    def arg_func(self, regno: int, reg: s.Reg) -> None:
        self.expect(regno, reg, s.FUNC)
        self.callback = reg.size

    def arg_stack_or_null(self, regno: int, reg: s.Reg) -> None:
        if not _is_null(reg):
            self.expect(regno, reg, s.STACK)

    def dynptr_at(self, regno: int, reg: s.Reg) -> tuple[s.Frame, int] | None:
        """The stack frame and offset of a ``struct bpf_dynptr`` argument (None when it
        cannot hold one: not 8-aligned or not 16 bytes inside the stack)."""
        if reg.type != s.STACK or not reg.var.is_const:
            raise self.fail(f"arg#{regno - 1} expected pointer to stack or const struct bpf_dynptr", errno.EINVAL)
        start = reg.off + sc.signed(reg.var.value)
        if start % 8 or start < -STACK_SIZE or start + 16 > 0:
            return None
        return self.state.frames[reg.frame], start

    def initialized_dynptr(self, regno: int, reg: s.Reg) -> s.Reg | None:
        where = self.dynptr_at(regno, reg)
        if where is None:
            return None
        frame, start = where
        slot = frame.stack.get((-start - 1) // 8)
        if slot is None or slot.spilled is None or slot.spilled.type != s.DYNPTR_SLOT or slot.spilled.size:
            return None
        return slot.spilled

    def arg_dynptr_uninit(self, regno: int, reg: s.Reg) -> None:
        where = self.dynptr_at(regno, reg)
        if where is None:
            raise self.fail("Dynptr has to be an uninitialized dynptr", errno.EINVAL)
        frame, start = where
        for offset in (start, start + 8):
            slot = frame.stack.get((-offset - 1) // 8)
            if slot is not None and s.DYNPTR in slot.kinds:
                raise self.fail("cannot overwrite referenced dynptr", errno.EINVAL)
        self.v.note_depth(self.state, reg.frame, start)
        self.dynptr_made = frame, start

    def arg_dynptr(self, regno: int, reg: s.Reg) -> None:
        self.dynptr = self.initialized_dynptr(regno, reg)
        if self.dynptr is None:
            raise self.fail(f"Expected an initialized dynptr as arg #{regno - 1}", errno.EINVAL)

    def arg_dynptr_release(self, regno: int, reg: s.Reg) -> None:
        where = self.dynptr_at(regno, reg)
        slot = where[0].stack.get((-where[1] - 1) // 8) if where is not None else None
        dynptr = slot.spilled if slot is not None else None
        if where is None or dynptr is None or dynptr.type != s.DYNPTR_SLOT or dynptr.ref not in self.state.refs:
            raise self.fail(f"arg {regno} is an unacquired reference", errno.EINVAL)
        if dynptr.size:                  # the second half of one
            raise self.fail(f"Expected an initialized dynptr as arg #{regno - 1}", errno.EINVAL)
        frame, start = where
        for offset in (start, start + 8):
            frame.stack.pop((-offset - 1) // 8, None)
        self.release(dynptr.ref)

    def arg_alloc_size0(self, regno: int, reg: s.Reg) -> None:
        self.arg_alloc_size(regno, reg)

    def arg_alloc_size(self, regno: int, reg: s.Reg) -> None:
        self.expect(regno, reg, s.SCALAR)
        self.v.mark_precise(regno)
        if not reg.var.is_const:
            raise self.fail(f"R{regno} is not a known constant'")
        self.alloc_size = reg.var.value

    def arg_release(self, regno: int, reg: s.Reg) -> None:
        if reg.type == s.MEM + s.OR_NULL:
            raise self.fail(f"Possibly NULL pointer passed to helper arg{regno}")
        self.expect(regno, reg, s.MEM)
        if reg.off or not reg.var.is_const or reg.var.value:
            raise self.fail(f"R{regno} must have zero offset when passed to release func or trusted arg to kfunc",
                            errno=errno.EINVAL)
        if not reg.ref or reg.ref not in self.state.refs:
            raise self.fail(f"R{regno} must be referenced when passed to release function", errno=errno.EINVAL)
        self.release(reg.ref)

    def arg_sock_release(self, regno: int, reg: s.Reg) -> None:
        if reg.type not in s.SOCKETS:
            raise self.fail(f"R{regno} type={reg.type} expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, "
                            "trusted_ptr_")
        if not reg.ref or reg.ref not in self.state.refs:
            raise self.fail(f"R{regno} must be referenced when passed to release function", errno=errno.EINVAL)
        self.release(reg.ref)

    def release(self, ref: int) -> None:
        """The reference is given back: every copy of the pointer becomes unusable."""
        del self.state.refs[ref]
        self.state.update(lambda other: other.but(type=s.SCALAR, var=sc.UNKNOWN, ref=0, id=0, size=0)
                          if other.ref == ref else None)

    def build_callback_args(self, regs: list[s.Reg]) -> None:
        context = regs[3].copy()
        made = []
        for kind in self.proto.callback_args:
            if kind == "scalar":
                made.append(s.scalar(sc.unsigned_range(0, sc.U32)))
            elif kind == "map_ptr":
                made.append(s.Reg(s.MAP_PTR, sc.const(0), map=self.map))
            elif kind == "map_key":
                made.append(s.Reg(s.MAP_KEY, sc.const(0), map=self.map))
            elif kind == "map_value":
                made.append(s.Reg(s.MAP_VALUE, sc.const(0), map=self.map))
            else:
                made.append(context)
        self.callback_args = (made + [s.Reg()] * 5)[:5]


def _constants(state: s.State, live: tuple[int, ...]) -> tuple:
    """(frame, register, value) of each live register of ``state`` that is a constant
    scalar (``live``: a register mask per frame), frame by frame and register by
    register: equal states give equal tuples."""
    found = []
    scalar = s.SCALAR
    for f, (frame, mask) in enumerate(zip(state.frames, live)):
        regs = frame.regs
        for n in _bits(mask):
            reg = regs[n]
            if reg.type == scalar:
                var = reg.var
                if var[0] == var[1]:
                    found.append((f, n, var[0]))
    return tuple(found)


@lru_cache(maxsize=2048)
def _bits(mask: int) -> tuple[int, ...]:
    """The register numbers in a register mask."""
    return tuple(n for n in range(11) if mask >> n & 1)


def _same_callsites(a: s.State, b: s.State) -> bool:
    return len(a.frames) == len(b.frames) and all(x.callsite == y.callsite for x, y in zip(a.frames, b.frames))


def _widen(old: s.State, new: s.State, precise: tuple[int, ...]) -> None:
    """The kernel's ``widen_imprecise_scalars``: a scalar of ``new`` that differs from the
    same register (or spilled register) of ``old`` becomes unknown, unless it is precise
    (``precise``: a register mask per frame; spilled scalars count as imprecise)."""
    scalar = s.SCALAR
    for before, after, mask in zip(old.frames, new.frames, precise):
        regs = after.regs
        for n, (a, b) in enumerate(zip(before.regs, regs)):
            # registers shared by both states (most of them: copies share them) are equal
            if a is not b and a.type == b.type == scalar and a.var != b.var and not mask >> n & 1:
                regs[n] = b.but(var=sc.UNKNOWN, id=0)
        for i, slot in after.stack.items():
            old_slot = before.stack.get(i)
            if old_slot is None or old_slot is slot or old_slot.spilled is None or slot.spilled is None:
                continue
            a, b = old_slot.spilled, slot.spilled
            if a is not b and a.type == b.type == scalar and a.var != b.var:
                after.stack[i] = s.Slot(slot.kinds, b.but(var=sc.UNKNOWN, id=0))


def _calls_back(number: int) -> bool:
    """Whether helper ``number`` calls one of the program's functions back."""
    from pybpf.verifier.protos import PROTOS  # (imported for a program that calls a helper)

    entry = PROTOS.get(number)
    return entry is not None and bool(entry[0].callback_args)


def _helper_params(number: int) -> int:
    """How many argument registers a call of helper ``number`` reads (5 when unknown)."""
    from pybpf.verifier.protos import PROTOS

    proto = PROTOS.get(number)
    if proto is None:
        return 5
    args = proto[0].args
    while args and args[-1] == "any?":
        args = args[:-1]
    return len(args)


def _is_null(reg: s.Reg) -> bool:
    return reg.type == s.SCALAR and reg.var.is_const and reg.var.value == 0
