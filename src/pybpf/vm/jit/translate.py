"""eBPF → LLVM IR, one LLVM function per eBPF function (the main program and each
bpf-to-bpf call target), with the interpreter's exact semantics and checks.

Registers live in allocas that LLVM promotes to SSA values; a bit mask records which are
initialised, so a read of an unwritten register faults exactly as in the interpreter
(LLVM folds the checks away where the path proves them). Every memory access is checked:
the function's own stack (an alloca, so LLVM can keep it in registers), the input memory,
then — through a callback — the stacks of calling frames. Callbacks are called through
pointers in the state array (:mod:`pybpf.vm.jit.abi`), never by symbol. A per-block instruction counter
enforces the budget. Faults record what happened in the shared state array and return;
the runtime turns them into the interpreter's VMError messages.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping, Sequence

from llvmlite import ir

from pybpf.engine.program import SKB_TEST_RUN_MAX
from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.vm.analysis import initialised_registers
from pybpf.vm.constants import MAP_HANDLE_BASE
from pybpf.vm.ethernet import (
    ETH_P_802_2,
    ETH_P_802_3,
    ETH_P_802_3_MIN,
    LOOPBACK_IFINDEX,
    PACKET_HOST,
    PACKET_MULTICAST,
    PACKET_OTHERHOST,
)
from pybpf.vm.jit.abi import (
    BATCH_SYMBOL,
    CONTEXT_BASE,
    ELEMENT_SHIFT,
    ENTRY_SYMBOL,
    F_BUDGET,
    F_DEPTH,
    F_MEMORY,
    F_MISALIGNED,
    F_PACKET,
    F_UNINIT,
    FRAME_UNTOUCHED,
    K_ARRAY,
    K_CACHE,
    L_SKB_L3,
    L_XDP,
    LOOKUP_SLOW,
    MAX_FRAMES,
    MAX_POINTERS,
    MAX_REGIONS,
    P_DIRECT,
    PACKETS_SYMBOL,
    R_WRITABLE,
    REGION_SLOTS,
    S_ADDR,
    S_BUDGET,
    S_CALLS,
    S_CONSTS,
    S_DEPTH,
    S_DIRTY,
    S_EXTENT,
    S_FRAMES,
    S_HEAD,
    S_HELPER_FN,
    S_IN_BASE,
    S_IN_HOST,
    S_IN_LEN,
    S_NPOINTERS,
    S_NREGIONS,
    S_PACKET,
    S_POINTERS,
    S_R0_SET,
    S_REGIONS,
    S_SIZE,
    S_SLOT,
    S_STACK_HOST,
    S_STATUS,
    S_TAIL,
    S_TRANSLATE_FN,
    S_WRITE,
    SK_BUFF_SIZE,
    SKIPPED,
    WRITE_FLAG,
    XDP_FRAG_SIZE,
    XDP_HEADROOM,
    XDP_TAILROOM,
    JitUnsupported,
)
from pybpf.vm.jit.mapcalls import NATIVE_MAP_WRITES, find_lookup_entry, native_hash_lookup, native_map_write
from pybpf.vm.memory import INPUT_BASE, STACK_TOP
from pybpf.vm.program import CheckedProgram, map_value_references

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
STATE = I64.as_pointer()
#: helpers that call one of the program's functions back (bpf_for_each_map_elem,
#: bpf_loop) or keep one to call later (bpf_timer_set_callback): programs calling them
#: run on the interpreter
CALLBACK_HELPERS = frozenset({164, 170, 181})
#: helpers that replace an skb's packet with a longer or shorter one (bpf_skb_change_tail):
#: compiled code keeps the packet's address and length for the whole run
RESIZING_HELPERS = frozenset({38})
#: bpf_map_lookup_elem (engine code answers it natively where the run's table can)
MAP_LOOKUP_ELEM = 1
RESULT = ir.LiteralStructType([I64, I64])
FUNC_TYPE = ir.FunctionType(RESULT, [STATE, I64, *([I64] * 10), I64])
HELPER_TYPE = ir.FunctionType(I64, [STATE, I64, I64, I64, I64, I64, I64])  # state, id, r1..r5
SLOW_TYPE = ir.FunctionType(I64, [STATE, I64, I64, I64])                   # state, addr, size, depth


ETH_HLEN = 14
#: whether this machine is x86-64 (divisions by a register become full-width ``div``s)
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
#: checks sharing one fault exit (see _FunctionBuilder._fault_block)
FAULT_EDGES = 64


def c64(value: int) -> ir.Constant:
    return ir.Constant(I64, value & ((1 << 64) - 1))


def _scan_table(b: ir.IRBuilder, state: ir.Value, count_slot: int, limit: int, first: int, stride: int,
                matches: Callable[[ir.Value], ir.Value], found: ir.Block, done: ir.Block) -> ir.Value:
    """A loop over a table in the state — ``state[count_slot]`` entries (at most ``limit``)
    of ``stride`` slots from slot ``first`` — that goes to ``found`` at the first entry
    for which ``matches(slot)`` (emitted in the loop's body) holds, and to ``done`` after
    the last. Returns the entry's first slot (for ``found``); emission starts at ``b``'s
    block, and the builder is left in the body, terminated."""
    start = b.block
    head, body = start.function.append_basic_block(), start.function.append_basic_block()
    count = b.load(b.gep(state, [c64(count_slot)]))
    bounded = b.select(b.icmp_unsigned("<", count, c64(limit)), count, c64(limit))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(c64(0), start)
    b.cbranch(b.icmp_unsigned("<", i, bounded), body, done)
    b.position_at_end(body)
    slot = b.add(c64(first), b.mul(i, c64(stride)))
    i.add_incoming(b.add(i, c64(1)), body)
    b.cbranch(matches(slot), found, head)
    return slot


@dataclass
class _Function:
    start: int
    end: int
    llvm: ir.Function


class Translator:
    """Builds the LLVM module for one program.

    ``engine``: code for the vm engine's runs (:class:`pybpf.vm.jit.runtime.EngineRun`)
    rather than the conformance convention: r1 alone is set at entry (the context), the
    main function's stack is the engine's (tail calls share it), ``lddw`` map-value
    references read their addresses from the run, accesses outside the stack and the
    packet look in the run's table of regions before calling back, and loads of a
    context's pointer fields give the pointers (as the interpreter's :class:`Region.pointers`).

    ``trusted``: the program passed :mod:`pybpf.verifier`, and this is its verdict's
    ``accesses`` (instruction → the pointer kinds its access goes through). The code then
    counts no budget (the verifier proved every path ends), checks no register for being
    written (it proved that too), and reaches the stack of its own frame and the packet
    without bounds checks where the verifier proved the access inside them."""

    def __init__(self, program: CheckedProgram, engine: bool = False,
                 trusted: Mapping[int, frozenset[str]] | None = None):
        self.program = program
        self.engine = engine
        self.trusted = trusted
        self.instructions = program.instructions
        self.module = ir.Module(name="bpf")
        self.functions = self._split()
        #: the engine's lddw map-value references: instruction index → their number
        self.map_values = {index: k for k, index in enumerate(map_value_references(program))}
        self._region_fn: ir.Function | None = None
        self._pointer_fn: ir.Function | None = None
        self._lookup_fn: ir.Function | None = None

    # --- structure ---------------------------------------------------------------------

    def _split(self) -> dict[int, _Function]:
        starts = {0}
        for index, ins in enumerate(self.instructions):
            if ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO:
                starts.add(self.program.target(index, ins.imm))
            elif ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_HELPER and ins.imm in CALLBACK_HELPERS:
                raise JitUnsupported(f"instruction {self.program.slots[index]} calls a helper that runs a callback "
                                     "(bpf_loop, bpf_for_each_map_elem, bpf_timer_set_callback): the interpreter runs it")
            elif ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_HELPER and ins.imm in RESIZING_HELPERS:
                raise JitUnsupported(f"instruction {self.program.slots[index]} resizes the packet "
                                     "(bpf_skb_change_tail): the interpreter runs it")
        ordered = sorted(starts)
        functions = {}
        for i, start in enumerate(ordered):
            end = ordered[i + 1] if i + 1 < len(ordered) else len(self.instructions)
            functions[start] = _Function(start, end, ir.Function(self.module, FUNC_TYPE, name=f"bpf_fn_{start}"))
        return functions

    def translate(self) -> ir.Module:
        for function in self.functions.values():
            _FunctionBuilder(self, function).build()
        entry = ir.Function(self.module, ir.FunctionType(I64, [STATE, I64, I64]), name=ENTRY_SYMBOL)
        b = ir.IRBuilder(entry.append_basic_block())
        state, r1, r2 = entry.args
        regs = [c64(0)] * 10
        regs[1], regs[2] = r1, r2
        result = b.call(self.functions[0].llvm, [state, c64(0), *regs, c64(0b10 if self.engine else 0b110)])
        r0 = b.extract_value(result, 0)
        mask = b.extract_value(result, 1)
        # the r0-initialised bit goes back through its own slot (a fault's details stay intact)
        b.store(b.and_(mask, c64(1)), b.gep(state, [c64(S_R0_SET)]))
        b.ret(r0)
        self._batch(entry)
        if self.engine:
            _packets(self.module, entry, self.trusted is not None)
        return self.module

    def region_function(self) -> ir.Function:
        """``bpf_region(state, addr, size, write) -> host or 0``: the run's region holding
        ``addr`` (the first, as :meth:`Memory.region` scans) when the whole access fits
        and is allowed; 0 leaves the access to the runtime's callback (and its messages)."""
        if self._region_fn is not None:
            return self._region_fn
        fn = self._region_fn = ir.Function(self.module, ir.FunctionType(I64, [STATE, I64, I64, I64]),
                                           name="bpf_region")
        fn.linkage = "internal"
        state, addr, size, write = fn.args
        b = ir.IRBuilder(fn.append_basic_block())      # (the entry block comes first)
        inside, divide, check, done = (fn.append_basic_block() for _ in range(4))
        bounds: list[ir.Value] = []

        def holds(slot: ir.Value) -> ir.Value:      # addr in [base, end): offset < length
            base, end = b.load(b.gep(state, [slot])), b.load(b.gep(state, [b.add(slot, c64(1))]))
            bounds[:] = b.sub(addr, base), b.sub(end, base)
            return b.icmp_unsigned("<", bounds[0], bounds[1])

        slot = _scan_table(b, state, S_NREGIONS, MAX_REGIONS, S_REGIONS, REGION_SLOTS, holds, inside, done)
        offset, length = bounds
        b.position_at_end(inside)
        host, flags = b.load(b.gep(state, [b.add(slot, c64(2))])), b.load(b.gep(state, [b.add(slot, c64(3))]))
        fits = b.and_(b.icmp_unsigned("<=", size, length), b.icmp_unsigned("<=", offset, b.sub(length, size)))
        # an array of values: the access inside one value (stride 0: the region is one thing)
        element = b.load(b.gep(state, [b.add(slot, c64(4))]))
        stride, value_size = b.lshr(element, c64(ELEMENT_SHIFT)), b.and_(element, c64(0xFFFF_FFFF))
        power_of_two = b.icmp_unsigned("==", b.and_(stride, b.sub(stride, c64(1))), c64(0))
        masked = b.and_(offset, b.sub(stride, c64(1)))     # (0 for a region that is one thing)
        b.cbranch(power_of_two, check, divide)
        b.position_at_end(divide)                           # (a stride not a power of two: rare)
        divided = b.urem(offset, stride)
        b.branch(check)
        b.position_at_end(check)
        within = b.phi(I64)
        within.add_incoming(masked, inside)
        within.add_incoming(divided, divide)
        in_value = b.and_(b.icmp_unsigned("<=", size, value_size),
                          b.icmp_unsigned("<=", within, b.sub(value_size, size)))
        fits = b.and_(fits, b.or_(b.icmp_unsigned("==", stride, c64(0)), in_value))
        allowed = b.or_(b.icmp_unsigned("==", write, c64(0)),
                        b.icmp_unsigned("!=", b.and_(flags, c64(R_WRITABLE)), c64(0)))
        b.ret(b.select(b.and_(fits, allowed), b.add(host, offset), c64(0)))
        b.position_at_end(done)
        b.ret(c64(0))
        return fn

    def lookup_function(self) -> ir.Function:
        """``bpf_lookup(state, handle, key, stack_base, stack_host) -> value address``: a
        bpf_map_lookup_elem answered from the run's lookup table (S_LOOKUPS, filled by
        :mod:`pybpf.vm.jit.lookups`) when the key lies in the current frame's stack: an
        array's value address or NULL past its end, a cached hash value's address; else
        LOOKUP_SLOW (the helper callback answers, and may fill the cache)."""
        if self._lookup_fn is not None:
            return self._lookup_fn
        fn = self._lookup_fn = ir.Function(self.module, ir.FunctionType(I64, [STATE, I64, I64, I64, I64]),
                                           name="bpf_lookup")
        fn.linkage = "internal"
        state, handle, key, stack_base, stack_host = fn.args
        start, found, key_head, key_body, key_done, array, cache, pair_head, pair_body, hit, slow = \
            (fn.append_basic_block() for _ in range(11))
        b = ir.IRBuilder(start)
        table, entry = find_lookup_entry(b, state, handle, found, slow)
        # the key: 1 to 8 bytes in this frame's stack
        kind, key_size = b.load(b.gep(table, [b.add(entry, c64(1))])), b.load(b.gep(table, [b.add(entry, c64(2))]))
        number, base = b.load(b.gep(table, [b.add(entry, c64(3))])), b.load(b.gep(table, [b.add(entry, c64(4))]))
        stride = b.load(b.gep(table, [b.add(entry, c64(5))]))
        rel = b.sub(key, stack_base)
        in_stack = b.icmp_unsigned("<=", rel, b.sub(c64(o.STACK_SIZE), key_size))
        native_hash_lookup(b, state, kind, base, key, key_size, stack_base, stack_host)  # (returns for native tables)
        on_stack = b.and_(b.icmp_unsigned("<=", key_size, c64(8)), in_stack)
        keyed = b.block
        b.cbranch(on_stack, key_head, slow)
        b.position_at_end(key_head)                # little-endian, byte by byte
        j, value = b.phi(I64), b.phi(I64)
        j.add_incoming(c64(0), keyed)
        value.add_incoming(c64(0), keyed)
        b.cbranch(b.icmp_unsigned("<", j, key_size), key_body, key_done)
        b.position_at_end(key_body)
        byte = b.load(b.inttoptr(b.add(stack_host, b.add(rel, j)), I8.as_pointer()))
        j.add_incoming(b.add(j, c64(1)), key_body)
        value.add_incoming(b.or_(value, b.shl(b.zext(byte, I64), b.shl(j, c64(3)))), key_body)
        b.branch(key_head)
        b.position_at_end(key_done)
        b.cbranch(b.icmp_unsigned("==", kind, c64(K_ARRAY)), array,
                  cache)
        b.position_at_end(array)                   # an array: the index is the key's low 32 bits
        index = b.and_(value, c64(0xFFFF_FFFF))
        b.ret(b.select(b.icmp_unsigned("<", index, number), b.add(base, b.mul(index, stride)), c64(0)))
        b.position_at_end(cache)
        pairs = b.inttoptr(base, STATE)
        is_cache = b.icmp_unsigned("==", kind, c64(K_CACHE))
        b.cbranch(is_cache, pair_head, slow)
        b.position_at_end(pair_head)
        k = b.phi(I64)
        k.add_incoming(c64(0), cache)
        b.cbranch(b.icmp_unsigned("<", k, number), pair_body, slow)
        b.position_at_end(pair_body)
        k.add_incoming(b.add(k, c64(1)), pair_body)
        b.cbranch(b.icmp_unsigned("==", b.load(b.gep(pairs, [b.mul(k, c64(2))])), value), hit, pair_head)
        b.position_at_end(hit)
        b.ret(b.load(b.gep(pairs, [b.add(b.mul(k, c64(2)), c64(1))])))
        b.position_at_end(slow)
        b.ret(c64(LOOKUP_SLOW))
        return fn

    def pointer_function(self) -> ir.Function:
        """``bpf_pointer(state, addr) -> pointer or 0``: the value a load at ``addr`` gives
        when ``addr`` is a context's pointer field (``xdp_md.data``...), else 0."""
        if self._pointer_fn is not None:
            return self._pointer_fn
        fn = self._pointer_fn = ir.Function(self.module, ir.FunctionType(I64, [STATE, I64]), name="bpf_pointer")
        fn.linkage = "internal"
        state, addr = fn.args
        b = ir.IRBuilder(fn.append_basic_block())
        found, done = fn.append_basic_block(), fn.append_basic_block()
        slot = _scan_table(b, state, S_NPOINTERS, MAX_POINTERS, S_POINTERS, 2,
                           lambda slot: b.icmp_unsigned("==", b.load(b.gep(state, [slot])), addr), found, done)
        b.position_at_end(found)
        b.ret(b.load(b.gep(state, [b.add(slot, c64(1))])))
        b.position_at_end(done)
        b.ret(c64(0))
        return fn

    def _batch(self, entry: ir.Function) -> None:
        """``bpf_batch(state, hosts, lengths, n, results) -> runs completed``: the program
        over n inputs in one native loop; stops at the first fault (a packet load past the
        end is not one: its r0 is 0). The budget is per input."""
        fn = ir.Function(self.module, ir.FunctionType(I64, [STATE, STATE, STATE, I64, STATE]), name=BATCH_SYMBOL)
        state, hosts, lengths, count, results = fn.args
        start = fn.append_basic_block()
        head, body, done = fn.append_basic_block(), fn.append_basic_block(), fn.append_basic_block()
        b = ir.IRBuilder(start)
        budget = b.load(b.gep(state, [c64(S_BUDGET)]))
        in_base = b.load(b.gep(state, [c64(S_IN_BASE)]))
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(I64)
        i.add_incoming(c64(0), start)
        b.cbranch(b.icmp_unsigned("<", i, count), body, done)
        b.position_at_end(body)
        length = b.load(b.gep(lengths, [i]))
        b.store(b.load(b.gep(hosts, [i])), b.gep(state, [c64(S_IN_HOST)]))
        b.store(length, b.gep(state, [c64(S_IN_LEN)]))
        b.store(budget, b.gep(state, [c64(S_BUDGET)]))
        b.store(c64(0), b.gep(state, [c64(S_STATUS)]))
        r0 = b.call(entry, [state, in_base, length])
        status = b.load(b.gep(state, [c64(S_STATUS)]))
        initialised = b.icmp_unsigned("!=", b.load(b.gep(state, [c64(S_R0_SET)])), c64(0))
        packet_end = b.icmp_unsigned("==", status, c64(F_PACKET))
        ok = b.or_(packet_end, b.and_(b.icmp_unsigned("==", status, c64(0)), initialised))
        b.store(b.select(packet_end, c64(0), r0), b.gep(results, [i]))
        following = b.add(i, c64(1))
        i.add_incoming(following, body)
        stop = fn.append_basic_block()
        b.cbranch(ok, head, stop)
        b.position_at_end(stop)
        b.ret(i)
        b.position_at_end(done)
        b.ret(i)


class _FunctionBuilder:
    """Translates one eBPF function."""

    def __init__(self, translator: Translator, function: _Function):
        self.t = translator
        self.fn = function
        self.ir_fn = function.llvm
        self.state, self.depth = self.ir_fn.args[0], self.ir_fn.args[1]
        self.entry = self.ir_fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)
        self.regs = [self.b.alloca(I64, name=f"r{n}") for n in range(11)]
        self.mask = self.b.alloca(I64, name="mask")
        self.budget = self.b.alloca(I64, name="budget")
        stack_type = ir.ArrayType(I8, o.STACK_SIZE)
        if translator.engine and function.start == 0:   # the engine's stack, zeroed by the engine
            self.stack = self.b.inttoptr(self._state_load(S_STACK_HOST), stack_type.as_pointer(), name="stack")
        else:
            self.stack = self.b.alloca(stack_type, name="stack")
            self.stack.align = 8
            # the interpreter's stack starts zeroed: so does this one (never the host's
            # leftovers) — unless no instruction here can reach memory (a classic filter
            # without scratch words), where zeroing 512 bytes was a fair part of each run
            if _reaches_memory(translator.program.instructions[function.start:function.end]):
                memset = translator.module.declare_intrinsic("llvm.memset", [I8.as_pointer(), I64])
                self.b.call(memset, [self.b.bitcast(self.stack, I8.as_pointer()), ir.Constant(I8, 0),
                                     c64(o.STACK_SIZE), ir.Constant(I1, 0)])
        for n in range(10):
            self.b.store(self.ir_fn.args[2 + n], self.regs[n])
        self.stack_base = self.b.sub(c64(STACK_TOP), self.b.mul(self.b.add(self.depth, c64(1)), c64(0x10000)))
        self.b.store(self.b.add(self.stack_base, c64(o.STACK_SIZE)), self.regs[10])
        # (trusted code: every register the program reads is written, the verifier proved)
        self.b.store(c64(0x7FF) if translator.trusted is not None else self.b.or_(self.ir_fn.args[12], c64(1 << 10)),
                     self.mask)
        self.b.store(self._state_load(S_BUDGET), self.budget)
        frame_slot = self.b.gep(self.state, [self.b.add(self.depth, c64(S_FRAMES))])
        self.b.store(self.b.ptrtoint(self.stack, I64), frame_slot)
        self.blocks: dict[int, ir.Block] = {}
        self._fault_exits: dict[tuple[int, tuple[int, ...]], tuple[ir.Block, list[ir.PhiInstr]]] = {}
        self.index = function.start
        self.block_end = function.start
        self.initialised = self._initialised()

    # --- small pieces ------------------------------------------------------------------

    def _state_load(self, slot: int) -> ir.Value:
        return self.b.load(self.b.gep(self.state, [c64(slot)]))

    def _state_store(self, slot: int, value: ir.Value) -> None:
        self.b.store(value, self.b.gep(self.state, [c64(slot)]))

    def _callback(self, slot: int, kind: ir.FunctionType) -> ir.Value:
        """The runtime's callback whose address the state holds in ``slot`` (called through
        a pointer, so the compiled code has no symbol for a loader to resolve)."""
        return self.b.inttoptr(self._state_load(slot), kind.as_pointer())

    def _fault_block(self, code: int, varying: tuple[int, ...]) -> tuple[ir.Block, list[ir.PhiInstr]]:
        """A fault exit for faults of kind ``code``: it records the fault in the state and
        returns — the details named by ``varying`` (state slots) as its predecessors hand
        them over through phis, the others as 0. Shared by up to FAULT_EDGES checks of the
        same kind and shape, rather than one block per check: that keeps the function
        small, bounded phis keep LLVM's passes (whose work on a phi grows with its
        incoming edges, per edge) linear in the program's size, and phis only for what
        varies (a budget check hands over 2 values, not 6) keep the IR and the copies
        code generation puts on every edge few."""
        key = (code, varying)
        exit_ = self._fault_exits.get(key)
        if exit_ is None or len(exit_[1][0].incomings) >= FAULT_EDGES:
            block = self.ir_fn.append_basic_block("fault")
            b = ir.IRBuilder(block)
            phis = [b.phi(I64) for _ in varying]
            given = dict(zip(varying, phis))
            b.store(c64(code), b.gep(self.state, [c64(S_STATUS)]))
            for slot in (S_SLOT, S_ADDR, S_SIZE, S_WRITE, S_BUDGET):
                b.store(given.get(slot, c64(0)), b.gep(self.state, [c64(slot)]))
            b.store(self.depth, b.gep(self.state, [c64(S_DEPTH)]))
            b.ret(ir.Constant(RESULT, [0, 0]))
            exit_ = self._fault_exits[key] = block, phis
        return exit_

    def _fault_edge(self, code: int, slot: int, addr: ir.Value | None, size: int, write: ir.Value | int,
                    budget: ir.Value | None) -> ir.Block:
        """The fault exit for this fault, with this block's details added to its phis.
        ``write``: a write access (or, for F_UNINIT, the mask of set registers);
        ``budget``: what to leave in the budget slot (only a packet load past the end,
        which is no error, needs it)."""
        details = {S_SLOT: c64(slot), S_ADDR: addr, S_SIZE: c64(size) if size else None,
                   S_WRITE: write if isinstance(write, ir.Value) else c64(write) if write else None,
                   S_BUDGET: budget}
        varying = tuple(key for key, value in details.items() if value is not None)
        block, phis = self._fault_block(code, varying)
        here = self.b.block
        for phi, key in zip(phis, varying):
            phi.add_incoming(details[key], here)
        return block

    def _fault(self, code: int, slot: int, addr: ir.Value | None = None, size: int = 0, write: ir.Value | int = 0,
               budget: ir.Value | None = None) -> None:
        """End the function with a fault recorded in the state (current block ends)."""
        self.b.branch(self._fault_edge(code, slot, addr, size, write, budget))

    def _check(self, ok: ir.Value, code: int, slot: int, **details) -> None:
        """Continue when ``ok``; fault otherwise."""
        good = self.ir_fn.append_basic_block()
        bad = self._fault_edge(code, slot, details.get("addr"), details.get("size", 0), details.get("write", 0),
                               details.get("budget"))
        self.b.cbranch(ok, good, bad)
        self.b.position_at_end(good)

    def read(self, reg: int, slot: int) -> ir.Value:
        if reg != 10 and self.t.trusted is None and reg not in self.initialised.get(self.index, ()):
            mask = self.b.load(self.mask)   # on a fault, the runtime names every unset register read
            self._check(self.b.icmp_unsigned("!=", self.b.and_(mask, c64(1 << reg)), c64(0)), F_UNINIT, slot,
                        write=mask)
        return self.b.load(self.regs[reg])

    def write(self, reg: int, value: ir.Value) -> None:
        self.b.store(value, self.regs[reg])
        if self.t.trusted is None and reg not in self.initialised.get(self.index, ()):  # else its bit is set
            self.b.store(self.b.or_(self.b.load(self.mask), c64(1 << reg)), self.mask)

    def address(self, addr: ir.Value, size: int, write: bool, slot: int) -> ir.Value:
        """A host pointer for ``size`` bytes at program address ``addr``, or a fault."""
        b = self.b
        rel = b.sub(addr, self.stack_base)
        proven = self.t.trusted.get(self.index) if self.t.trusted is not None else None
        if proven == frozenset({"fp"}):       # the verifier proved it inside this frame's stack
            self._check(b.icmp_unsigned("==", b.and_(rel, c64(size - 1)), c64(0)), F_MISALIGNED, slot,
                        addr=addr, size=size, write=int(write))
            return b.gep(self.stack, [c64(0), rel])
        if proven == frozenset({"pkt"}) and self.t.engine:     # ... inside the packet
            return b.inttoptr(b.add(self._state_load(S_IN_HOST), b.sub(addr, self._state_load(S_IN_BASE))),
                              I8.as_pointer())
        in_stack = b.icmp_unsigned("<=", rel, c64(o.STACK_SIZE - size))
        stack_bb, other_bb, done_bb = (self.ir_fn.append_basic_block() for _ in range(3))
        b.cbranch(in_stack, stack_bb, other_bb)
        b.position_at_end(stack_bb)
        aligned = b.icmp_unsigned("==", b.and_(rel, c64(size - 1)), c64(0))
        self._check(aligned, F_MISALIGNED, slot, addr=addr, size=size, write=int(write))
        stack_ptr = b.gep(self.stack, [c64(0), rel])
        stack_end = b.block
        b.branch(done_bb)
        b.position_at_end(other_bb)
        in_rel = b.sub(addr, self._state_load(S_IN_BASE))
        length = self._state_load(S_IN_LEN)
        fits = b.and_(b.icmp_unsigned(">=", length, c64(size)),
                      b.icmp_unsigned("<=", in_rel, b.sub(length, c64(size))))
        input_bb, slow_bb = self.ir_fn.append_basic_block(), self.ir_fn.append_basic_block()
        b.cbranch(fits, input_bb, slow_bb)
        b.position_at_end(input_bb)
        input_ptr = b.inttoptr(b.add(self._state_load(S_IN_HOST), in_rel), I8.as_pointer())
        b.branch(done_bb)
        b.position_at_end(slow_bb)
        incoming = [(stack_ptr, stack_end), (input_ptr, input_bb)]
        if self.t.engine:   # the run's regions first, the callback for the rest
            region = b.call(self.t.region_function(), [self.state, addr, c64(size), c64(int(write))])
            found_bb, callback_bb = self.ir_fn.append_basic_block(), self.ir_fn.append_basic_block()
            b.cbranch(b.icmp_unsigned("!=", region, c64(0)), found_bb, callback_bb)
            b.position_at_end(found_bb)
            incoming.append((b.inttoptr(region, I8.as_pointer()), found_bb))
            b.branch(done_bb)
            b.position_at_end(callback_bb)
        slow_ptr_int = b.call(self._callback(S_TRANSLATE_FN, SLOW_TYPE),
                              [self.state, addr, c64(size | (WRITE_FLAG if write else 0)), self.depth])
        self._check(b.icmp_unsigned("!=", slow_ptr_int, c64(0)), F_MEMORY, slot,
                    addr=addr, size=size, write=int(write))
        incoming.append((b.inttoptr(slow_ptr_int, I8.as_pointer()), b.block))
        b.branch(done_bb)
        b.position_at_end(done_bb)
        phi = b.phi(I8.as_pointer())
        for value, block in incoming:
            phi.add_incoming(value, block)
        return phi

    def load(self, addr: ir.Value, size: int, slot: int) -> ir.Value:
        ptr = self.b.bitcast(self.address(addr, size, False, slot), ir.IntType(8 * size).as_pointer())
        value = self.b.load(ptr, align=1)
        return value

    def store(self, addr: ir.Value, size: int, value: ir.Value | int, slot: int) -> None:
        """Store ``value`` (or, when an int, the register it names: read after the address
        is checked, in the interpreter's order)."""
        ptr = self.b.bitcast(self.address(addr, size, True, slot), ir.IntType(8 * size).as_pointer())
        if isinstance(value, int):
            value = self.read(value, slot)
        self.b.store(self.b.trunc(value, ir.IntType(8 * size)) if size < 8 else value, ptr, align=1)

    # --- the function ----------------------------------------------------------------------

    def _initialised(self) -> dict[int, frozenset[int]]:
        """Registers written on every path to each instruction (their reads need no check)."""
        main = frozenset({1, 10}) if self.t.engine else frozenset({1, 2, 10})
        entry = main if self.fn.start == 0 else frozenset({10})
        return initialised_registers(self.t.program, self.fn.start, self.fn.end, entry)

    def _leaders(self) -> list[int]:
        leaders = {self.fn.start}
        program = self.t.program
        for index in range(self.fn.start, self.fn.end):
            ins = self.t.instructions[index]
            if ins.is_jump:
                target = program.target(index, ins.jump_offset)
                if not self.fn.start <= target < self.fn.end:
                    raise JitUnsupported(f"instruction {program.slots[index]} jumps into another function")
                leaders.add(target)
                if index + 1 < self.fn.end:
                    leaders.add(index + 1)
            elif ins.opcode == o.JMP | o.EXIT and index + 1 < self.fn.end:
                leaders.add(index + 1)
        return sorted(leaders)

    def build(self) -> None:
        leaders = self._leaders()
        for leader in leaders:
            self.blocks[leader] = self.ir_fn.append_basic_block(f"i{leader}")
        self.b.branch(self.blocks[leaders[0]])
        bounds = leaders + [self.fn.end]
        for leader, end in zip(bounds, bounds[1:]):
            self.b.position_at_end(self.blocks[leader])
            self.block_end = end
            if self.t.trusted is None:      # (a verified program ends on every path: no budget)
                remaining = self.b.sub(self.b.load(self.budget), c64(end - leader))
                self.b.store(remaining, self.budget)
                # on a fault, the address slot says how many of the block's instructions could still run
                self._check(self.b.icmp_signed(">=", remaining, c64(0)), F_BUDGET, self.t.program.slots[leader],
                            addr=self.b.add(remaining, c64(end - leader)))
            for index in range(leader, end):
                if self.b.block.is_terminated:
                    break
                self._instruction(index)
            if not self.b.block.is_terminated:
                if end >= self.fn.end:
                    self._fault(F_BUDGET, self.t.program.slots[end - 1])  # falls off: the loader forbids it
                else:
                    self.b.branch(self.blocks[end])

    def _instruction(self, index: int) -> None:
        self.index = index
        ins = self.t.instructions[index]
        slot = self.t.program.slots[index]
        kind = ins.cls
        if kind in (o.ALU, o.ALU64):
            self._alu(ins, slot)
        elif kind in (o.JMP, o.JMP32):
            self._jmp(index, ins, slot)
        elif kind == o.LD:
            self._ld(index, ins, slot)
        elif kind == o.LDX:
            self._ldx(ins, slot)
        elif kind == o.ST:
            addr = self.b.add(self.read(ins.dst, slot), c64(ins.off))
            self.store(addr, o.SIZE_BYTES[o.size(ins.opcode)], c64(ins.imm), slot)
        else:
            self._stx(ins, slot)

    # --- ALU ---------------------------------------------------------------------------------

    def _alu(self, ins: Instruction, slot: int) -> None:
        b = self.b
        wide = ins.cls == o.ALU64
        ty = I64 if wide else I32
        code = o.op(ins.opcode)
        by_reg = o.source(ins.opcode) == o.X

        def narrow(v: ir.Value) -> ir.Value:
            return v if wide else b.trunc(v, I32)

        def widen(v: ir.Value) -> ir.Value:
            return v if wide else b.zext(v, I64)

        if code == o.NEG:
            self.write(ins.dst, widen(b.neg(narrow(self.read(ins.dst, slot)))))
            return
        if code == o.END:
            bits = ins.imm
            value = b.trunc(self.read(ins.dst, slot), ir.IntType(bits)) if bits < 64 else self.read(ins.dst, slot)
            if wide or by_reg:
                value = b.call(self.t.module.declare_intrinsic("llvm.bswap", [ir.IntType(bits)]), [value])
            self.write(ins.dst, b.zext(value, I64) if bits < 64 else value)
            return
        if code == o.MOV:
            if by_reg and ins.off:
                small = b.trunc(self.read(ins.src, slot), ir.IntType(ins.off))
                self.write(ins.dst, widen(b.sext(small, ty)))
            elif by_reg:
                self.write(ins.dst, widen(narrow(self.read(ins.src, slot))))
            else:
                self.write(ins.dst, c64(ins.imm if wide else ins.imm & 0xFFFF_FFFF))
            return
        a = narrow(self.read(ins.dst, slot))
        bv = narrow(self.read(ins.src, slot)) if by_reg else ir.Constant(ty, ins.imm & ((1 << ty.width) - 1))
        self.write(ins.dst, widen(self._arith(code, ins.off == 1, a, bv, ty)))

    def _arith(self, code: int, signed: bool, a: ir.Value, bv: ir.Value, ty: ir.IntType) -> ir.Value:
        b = self.b
        zero, minus_one = ir.Constant(ty, 0), ir.Constant(ty, (1 << ty.width) - 1)
        if code in (o.LSH, o.RSH, o.ARSH):  # shift amounts are masked to the width
            amount = (ir.Constant(ty, bv.constant & (ty.width - 1)) if isinstance(bv, ir.Constant)
                      else b.and_(bv, ir.Constant(ty, ty.width - 1)))
            return {o.LSH: b.shl, o.RSH: b.lshr, o.ARSH: b.ashr}[code](a, amount)
        simple = {o.ADD: b.add, o.SUB: b.sub, o.MUL: b.mul, o.OR: b.or_, o.AND: b.and_, o.XOR: b.xor}
        if code in simple:
            return simple[code](a, bv)
        is_zero = b.icmp_unsigned("==", bv, zero)
        safe = b.select(is_zero, ir.Constant(ty, 1), bv)
        if not signed:
            if code == o.DIV:
                return b.select(is_zero, zero, self._divide(a, safe, False, True))
            return b.select(is_zero, a, self._divide(a, safe, False, False))
        # signed: dividing by -1 is negation (and INT_MIN / -1 wraps), which sdiv leaves undefined
        is_minus_one = b.icmp_unsigned("==", bv, minus_one)
        safe = b.select(is_minus_one, ir.Constant(ty, 1), safe)
        if code == o.DIV:
            quotient = b.select(is_minus_one, b.neg(a), self._divide(a, safe, True, True))
            return b.select(is_zero, zero, quotient)
        remainder = b.select(is_minus_one, zero, self._divide(a, safe, True, False))
        return b.select(is_zero, a, remainder)

    def _divide(self, a: ir.Value, divisor: ir.Value, signed: bool, quotient: bool) -> ir.Value:
        """``a / divisor`` or ``a % divisor`` (the divisor is never 0, nor -1 when signed).
        A constant divisor is LLVM's (a multiplication); a variable one on x86-64 is one
        full-width ``div``/``idiv`` of the operation's width, as the kernel's JIT emits —
        LLVM would otherwise narrow a division whose operands it proves small to a
        16-bit ``divw``, whose ``movw`` into %ax waits on the previous division (a
        partial-register dependency that serialises a division loop)."""
        b = self.b
        if isinstance(divisor, ir.Constant) or not X86_64:
            return {(False, True): b.udiv, (False, False): b.urem, (True, True): b.sdiv,
                    (True, False): b.srem}[signed, quotient](a, divisor)
        ty = a.type
        suffix = "q" if ty.width == 64 else "l"
        extend = ("cqto" if ty.width == 64 else "cltd") if signed else "xorl %edx, %edx"
        asm = ir.InlineAsm(ir.FunctionType(ir.LiteralStructType([ty, ty]), [ty, ty]),
                           f"{extend}\n\t{'i' if signed else ''}div{suffix} $3", "={ax},=&{dx},0,r,~{flags}")
        both = b.call(asm, [a, divisor])
        return b.extract_value(both, 0 if quotient else 1)

    # --- jumps and calls -------------------------------------------------------------------------

    def _jmp(self, index: int, ins: Instruction, slot: int) -> None:
        b = self.b
        code = o.op(ins.opcode)
        if code == o.EXIT:
            self._exit(slot)
            return
        if code == o.CALL:
            self._call(index, ins, slot)
            return
        target = self.blocks[self.t.program.target(index, ins.jump_offset)]
        if code == o.JA:
            b.branch(target)
            return
        wide = ins.cls == o.JMP
        ty = I64 if wide else I32
        a = self.read(ins.dst, slot)
        bv = self.read(ins.src, slot) if o.source(ins.opcode) == o.X else c64(ins.imm)
        if not wide:
            a, bv = b.trunc(a, I32), b.trunc(bv, I32)
        if code == o.JSET:
            taken = b.icmp_unsigned("!=", b.and_(a, bv), ir.Constant(ty, 0))
        else:
            ops = {o.JEQ: ("==", False), o.JNE: ("!=", False), o.JGT: (">", False), o.JGE: (">=", False),
                   o.JLT: ("<", False), o.JLE: ("<=", False), o.JSGT: (">", True), o.JSGE: (">=", True),
                   o.JSLT: ("<", True), o.JSLE: ("<=", True)}
            op, signed = ops[code]
            taken = b.icmp_signed(op, a, bv) if signed else b.icmp_unsigned(op, a, bv)
        b.cbranch(taken, target, self.blocks[index + 1])

    def _exit(self, slot: int) -> None:
        b = self.b
        self._state_store(S_BUDGET, b.load(self.budget))
        self._state_store(S_SLOT, c64(slot))
        result = b.insert_value(ir.Constant(RESULT, ir.Undefined), b.load(self.regs[0]), 0)
        result = b.insert_value(result, b.load(self.mask), 1)
        b.ret(result)

    def _after_call(self, slot: int) -> None:
        """Propagate a fault from the callee; reload the shared budget."""
        failed = self.b.icmp_unsigned("!=", self._state_load(S_STATUS), c64(0))
        good = self.ir_fn.append_basic_block()
        bad = self.ir_fn.append_basic_block()
        self.b.cbranch(failed, bad, good)
        self.b.position_at_end(bad)
        self.b.ret(ir.Constant(RESULT, [0, 0]))
        self.b.position_at_end(good)
        self.b.store(self._state_load(S_BUDGET), self.budget)

    def _clobber(self) -> None:
        if self.t.trusted is not None:
            return
        self.b.store(self.b.and_(self.b.load(self.mask), c64(~0b111110)), self.mask)

    def _call(self, index: int, ins: Instruction, slot: int) -> None:
        b = self.b
        self._state_store(S_BUDGET, b.load(self.budget))
        self._state_store(S_SLOT, c64(slot))
        if ins.src == o.CALL_PSEUDO and o.source(ins.opcode) == o.K:
            callee = self.t.functions[self.t.program.target(index, ins.imm)].llvm
            self._check(b.icmp_unsigned("<", b.add(self.depth, c64(1)), c64(MAX_FRAMES)), F_DEPTH, slot)
            b.store(c64(slot), b.gep(self.state, [b.add(self.depth, c64(S_CALLS + 1))]))  # for bpf_get_stackid
            args = [b.load(self.regs[n]) for n in range(10)]
            result = b.call(callee, [self.state, b.add(self.depth, c64(1)), *args,
                                     b.and_(b.load(self.mask), c64(0x3FF))])
            self._after_call(slot)
            self.b.store(b.extract_value(result, 0), self.regs[0])
            if self.t.trusted is None:
                r0_bit = b.and_(b.extract_value(result, 1), c64(1))
                self.b.store(b.or_(b.and_(b.load(self.mask), c64(~0b111111)), r0_bit), self.mask)
            return
        if o.source(ins.opcode) == o.X:
            helper_id = self.read(ins.dst, slot)
        else:
            helper_id = c64(ins.imm)
        args = [b.load(self.regs[n]) for n in range(1, 6)]
        self._state_store(S_WRITE, b.load(self.mask))                          # which registers are set
        self._state_store(S_SIZE, c64(ins.dst + 1 if o.source(ins.opcode) == o.X else 0))  # callx: its register
        self._state_store(S_DEPTH, self.depth)                                 # whose stacks are live
        if not (o.source(ins.opcode) == o.K and ins.imm in FRAME_UNTOUCHED):
            self._state_store(S_DIRTY, c64(1))              # (a helper may write anywhere in an XDP frame)
        if self.t.engine and o.source(ins.opcode) == o.K and ins.imm == MAP_LOOKUP_ELEM:
            value = self._native_lookup(args, helper_id)
        elif self.t.engine and o.source(ins.opcode) == o.K and ins.imm in NATIVE_MAP_WRITES:
            value = native_map_write(self, ins.imm, args, helper_id)
        else:
            value = b.call(self._callback(S_HELPER_FN, HELPER_TYPE), [self.state, helper_id, *args])
        self._after_call(slot)
        self.write(0, value)
        self._clobber()

    def _native_lookup(self, args: list[ir.Value], helper_id: ir.Value) -> ir.Value:
        """bpf_map_lookup_elem through the run's lookup table, the callback where it cannot
        answer (or where r1 or r2 is not set: the callback raises the interpreter's error)."""
        b = self.b
        ready = b.icmp_unsigned("==", b.and_(b.load(self.mask), c64(0b110)), c64(0b110))
        native_bb, slow_bb, done_bb = (self.ir_fn.append_basic_block() for _ in range(3))
        b.cbranch(ready, native_bb, slow_bb)
        b.position_at_end(native_bb)
        found = b.call(self.t.lookup_function(), [self.state, args[0], args[1], self.stack_base,
                                                  b.ptrtoint(self.stack, I64)])
        b.cbranch(b.icmp_unsigned("!=", found, c64(LOOKUP_SLOW)), done_bb, slow_bb)
        b.position_at_end(slow_bb)
        called = b.call(self._callback(S_HELPER_FN, HELPER_TYPE), [self.state, helper_id, *args])
        b.branch(done_bb)
        b.position_at_end(done_bb)
        value = b.phi(I64)
        value.add_incoming(found, native_bb)
        value.add_incoming(called, slow_bb)
        return value

    # --- loads and stores ----------------------------------------------------------------------

    def _ld(self, index: int, ins: Instruction, slot: int) -> None:
        b = self.b
        if ins.is_lddw:
            if ins.src == o.PSEUDO_FUNC:
                relative = (ins.imm & 0xFFFF_FFFF) - ((ins.imm & 0x8000_0000) << 1)
                value = self.t.program.target(index, relative)
            elif ins.src == o.PSEUDO_MAP_FD:      # the opaque handle the map helpers decode
                value = MAP_HANDLE_BASE + (ins.imm & 0xFFFF_FFFF)
            elif ins.src == o.PSEUDO_MAP_VALUE:   # mapped per run: the engine's run has its address
                if not self.t.engine:
                    raise JitUnsupported(f"instruction {slot} loads a map value's address")
                consts = b.inttoptr(self._state_load(S_CONSTS), STATE)
                value = b.load(b.gep(consts, [c64(self.t.map_values[index])]))
            else:
                value = ins.imm
            self.write(ins.dst, value if isinstance(value, ir.Value) else c64(value))
            return
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        if o.mode(ins.opcode) == o.IND:
            base = b.and_(self.read(ins.src, slot), c64(0xFFFF_FFFF))
            offset = b.and_(b.add(base, c64(ins.imm)), c64(0xFFFF_FFFF))
        else:
            offset = c64(ins.imm & 0xFFFF_FFFF)
        length = self._state_load(S_IN_LEN)
        fits = b.and_(b.icmp_unsigned(">=", length, c64(size)),
                      b.icmp_unsigned("<=", offset, b.sub(length, c64(size))))
        # the block's whole length was counted at its start: give back what follows this load
        self._check(fits, F_PACKET, slot, budget=b.add(b.load(self.budget), c64(self.block_end - 1 - index)))
        ptr = b.inttoptr(b.add(self._state_load(S_IN_HOST), offset), ir.IntType(8 * size).as_pointer())
        value = b.load(ptr, align=1)
        if size > 1:
            value = b.call(self.t.module.declare_intrinsic("llvm.bswap", [ir.IntType(8 * size)]), [value])
        self.write(0, b.zext(value, I64))

    def _ldx(self, ins: Instruction, slot: int) -> None:
        opcode, dst = ins.opcode, ins.dst
        size = o.SIZE_BYTES[o.size(opcode)]
        addr = self.b.add(self.read(ins.src, slot), c64(ins.off))
        value = self.load(addr, size, slot)
        if self.t.engine and o.mode(opcode) == o.MEM:     # a context's pointer field gives the pointer
            pointer = self.b.call(self.t.pointer_function(), [self.state, addr])
            wide = value if size == 8 else self.b.zext(value, I64)
            value = self.b.select(self.b.icmp_unsigned("!=", pointer, c64(0)), pointer, wide)
        elif o.mode(opcode) == o.MEMSX:
            value = self.b.sext(value, I64)
        elif size < 8:
            value = self.b.zext(value, I64)
        self.write(dst, value)

    def _stx(self, ins: Instruction, slot: int) -> None:
        b = self.b
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        width = ir.IntType(8 * size)
        if o.mode(ins.opcode) == o.MEM or ins.imm == o.STORE_REL:
            addr = b.add(self.read(ins.dst, slot), c64(ins.off))
            self.store(addr, size, ins.src, slot)
            return
        if ins.imm == o.LOAD_ACQ:
            addr = b.add(self.read(ins.src, slot), c64(ins.off))
            self.write(ins.dst, b.zext(self.load(addr, size, slot), I64) if size < 8 else self.load(addr, size, slot))
            return
        # the interpreter's order: load, then read the operands, then store
        addr = b.add(self.read(ins.dst, slot), c64(ins.off))
        old = self.load(addr, size, slot)
        old64 = b.zext(old, I64) if size < 8 else old
        op = ins.imm
        if op == o.CMPXCHG:   # stores (and reads the source) only when equal, as the interpreter
            expected = b.trunc(self.read(0, slot), width) if size < 8 else self.read(0, slot)
            equal, after = self.ir_fn.append_basic_block(), self.ir_fn.append_basic_block()
            b.cbranch(b.icmp_unsigned("==", old, expected), equal, after)
            b.position_at_end(equal)
            self.store(addr, size, ins.src, slot)
            b.branch(after)
            b.position_at_end(after)
            self.write(0, old64)
            return
        if op == o.XCHG:
            self.store(addr, size, ins.src, slot)
            self.write(ins.src, old64)
            return
        src = self.read(ins.src, slot)
        src_n = b.trunc(src, width) if size < 8 else src
        combined = {o.ATOMIC_ADD: b.add, o.ATOMIC_OR: b.or_, o.ATOMIC_AND: b.and_,
                    o.ATOMIC_XOR: b.xor}[op & ~o.FETCH](old, src_n)
        self.store(addr, size, b.zext(combined, I64) if size < 8 else combined, slot)
        if op & o.FETCH:
            self.write(ins.src, old64)


def _reaches_memory(instructions: Sequence[Instruction]) -> bool:
    """Whether any of ``instructions`` can read or write memory (its frame's stack among
    it): a load, store or atomic, or a call (a helper writes through its arguments, a
    bpf-to-bpf call may be handed this frame's stack). Legacy packet loads (LD_ABS/IND)
    read only the packet."""
    for ins in instructions:
        kind = o.cls(ins.opcode)
        if kind in (o.LDX, o.ST, o.STX) or (kind in (o.JMP, o.JMP32) and ins.opcode & 0xF0 == o.CALL):
            return True
    return False


def _eth_type_trans(b: ir.IRBuilder, context: ir.Value, host: ir.Value, length: ir.Value,
                    ethertype: ir.Value) -> None:
    """Set ``skb->protocol``, ``pkt_type`` and ``ifindex`` as the kernel's skb test run
    does, as :func:`pybpf.vm.ethernet.eth_type_trans` (which says why) does for the
    interpreter: an 802.3 length becomes ETH_P_802_3 or ETH_P_802_2, the destination MAC
    against the loopback device's zeros gives the packet type."""
    def byte(index: int) -> ir.Value:
        return b.zext(b.load(b.gep(host, [c64(index)])), I64)

    def field(offset: int) -> ir.Value:
        return b.bitcast(b.gep(context, [c64(offset)]), I32.as_pointer())

    raw_ipx = b.and_(b.icmp_unsigned(">=", length, c64(16)),
                     b.icmp_unsigned("==", b.and_(byte(14), byte(15)), c64(0xFF)))
    length_field = b.select(raw_ipx, c64(ETH_P_802_3), c64(ETH_P_802_2))
    protocol = b.select(b.icmp_unsigned("<", ethertype, c64(ETH_P_802_3_MIN)), length_field, ethertype)
    swapped = b.or_(b.lshr(protocol, c64(8)), b.shl(b.and_(protocol, c64(0xFF)), c64(8)))   # network order
    b.store(b.trunc(swapped, I32), field(16))
    dest = [byte(k) for k in range(6)]
    anything = dest[0]
    for value in dest[1:]:
        anything = b.or_(anything, value)
    group = b.icmp_unsigned("!=", b.and_(dest[0], c64(1)), c64(0))
    other = b.select(group, c64(PACKET_MULTICAST), c64(PACKET_OTHERHOST))
    pkt_type = b.select(b.icmp_unsigned("==", anything, c64(0)), c64(PACKET_HOST), other)
    b.store(b.trunc(pkt_type, I32), field(4))
    b.store(ir.Constant(I32, LOOPBACK_IFINDEX), field(40))


def _packets(module: ir.Module, entry: ir.Function, trusted: bool) -> None:
    """``bpf_packets(state, hosts, lengths, n, results, heads, tails, buffer, slot, ctx,
    layout, flags) -> packets done``: an engine program over n packets in one native
    loop, each as the vm engine's test run builds it (:mod:`pybpf.vm.engine`): packet
    ``i`` is copied into ``buffer + i * slot`` — an XDP frame (headroom, packet, zeroed
    tailroom) or the skb's data; a ``slot`` of 0 runs every packet in one frame (what a
    caller that keeps no packets asks for: it stays in the cache) — the context is rebuilt (``__sk_buff`` at ``ctx``:
    len, protocol, wire_len; an XDP program's pointers), the stack zeroed, and the
    program run (``trusted`` code, which the verifier kept inside the packet, sharing one
    frame: only what the packet before it left past this packet's end is zeroed — unless
    a helper ran, which may have written anywhere). ``results[i]`` is r0, ``heads[i]``/``tails[i]`` where the packet the
    program left lies in its slot (SKIPPED: a packet no test run takes). Stops at the
    first fault or helper error (the caller raises it)."""
    fn = ir.Function(module, ir.FunctionType(I64, [STATE, STATE, STATE, I64, STATE, STATE, STATE, I64, I64, I64,
                                                   I64, I64]), name=PACKETS_SYMBOL)
    state, hosts, lengths, count, results, heads, tails, buffer, slot_size, ctx, layout, flags = fn.args
    p8 = I8.as_pointer()
    memset = module.declare_intrinsic("llvm.memset", [p8, I64])
    memcpy = module.declare_intrinsic("llvm.memcpy", [p8, p8, I64])
    start, head, body, skip, run, xdp, skb, ran, done = (fn.append_basic_block(n) for n in (
        "start", "head", "body", "skip", "run", "xdp", "skb", "ran", "done"))
    b = ir.IRBuilder(start)

    def slot_of(index: int) -> ir.Value:
        return b.gep(state, [c64(index)])

    budget = b.load(slot_of(S_BUDGET))
    packet_number = b.load(slot_of(S_PACKET))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(c64(0), start)
    b.cbranch(b.icmp_unsigned("<", i, count), body, done)

    b.position_at_end(body)
    length = b.load(b.gep(lengths, [i]))
    host = b.inttoptr(b.load(b.gep(hosts, [i])), p8)
    frame = b.gep(b.inttoptr(buffer, p8), [b.mul(i, slot_size)])
    is_xdp = b.icmp_unsigned("==", layout, c64(L_XDP))
    ethertype = b.or_(b.shl(b.zext(b.load(b.gep(host, [c64(12)])), I64), c64(8)),
                      b.zext(b.load(b.gep(host, [c64(13)])), I64))
    # the kernel's test run refuses runts, and skbs whose IPv4 or IPv6 header is cut short
    # or that are longer than its page (pybpf.engine.program.skb_test_run_refusal)
    cut = b.or_(b.and_(b.icmp_unsigned("==", ethertype, c64(0x0800)), b.icmp_unsigned("<", length, c64(34))),
                b.and_(b.icmp_unsigned("==", ethertype, c64(0x86DD)), b.icmp_unsigned("<", length, c64(54))))
    cut = b.or_(cut, b.icmp_unsigned(">", length, c64(SKB_TEST_RUN_MAX)))   # (or too long for an skb)
    runt = b.icmp_unsigned("<", length, c64(14))
    b.cbranch(b.or_(runt, b.and_(b.not_(is_xdp), cut)), skip, run)

    b.position_at_end(skip)
    b.store(c64(SKIPPED), b.gep(heads, [i]))
    b.store(c64(0), b.gep(results, [i]))
    following = b.add(i, c64(1))
    i.add_incoming(following, skip)
    b.branch(head)

    b.position_at_end(run)
    b.store(b.add(packet_number, b.add(i, c64(1))), slot_of(S_PACKET))
    stack = b.inttoptr(b.load(slot_of(S_STACK_HOST)), p8)
    b.call(memset, [stack, ir.Constant(I8, 0), c64(o.STACK_SIZE), ir.Constant(I1, 0)])
    b.store(budget, slot_of(S_BUDGET))
    b.store(c64(0), slot_of(S_STATUS))
    b.store(c64(0), slot_of(S_DEPTH))
    b.cbranch(is_xdp, xdp, skb)

    b.position_at_end(xdp)     # headroom, the packet, tailroom: all zero but the packet
    # the frame: the page's room, or a longer packet and its last fragment's (pybpf.vm.engine.xdp_frame_room)
    longer = b.icmp_unsigned(">", length, c64(XDP_TAILROOM))
    grown = b.select(longer, b.add(length, c64(XDP_FRAG_SIZE)), c64(XDP_TAILROOM))
    end = b.add(length, c64(XDP_HEADROOM))
    previous = b.load(slot_of(S_EXTENT))
    shared = b.and_(b.icmp_unsigned("==", slot_size, c64(0)), b.icmp_unsigned("==", b.load(slot_of(S_DIRTY)), c64(0)))
    clean = b.and_(b.and_(ir.Constant(I1, int(trusted)), shared), b.icmp_unsigned("!=", previous, c64(0)))
    b.store(c64(0), slot_of(S_DIRTY))
    b.store(end, slot_of(S_EXTENT))
    b.call(memcpy, [b.gep(frame, [c64(XDP_HEADROOM)]), host, length, ir.Constant(I1, 0)])
    whole, rest, zeroed = (fn.append_basic_block(n) for n in ("whole", "rest", "zeroed"))
    b.cbranch(clean, rest, whole)
    b.position_at_end(whole)
    b.call(memset, [frame, ir.Constant(I8, 0), c64(XDP_HEADROOM), ir.Constant(I1, 0)])
    b.call(memset, [b.gep(frame, [end]), ir.Constant(I8, 0), b.sub(grown, length), ir.Constant(I1, 0)])
    b.branch(zeroed)
    b.position_at_end(rest)    # the previous packet's bytes past this one's end
    left = b.select(b.icmp_unsigned(">", previous, end), b.sub(previous, end), c64(0))
    b.call(memset, [b.gep(frame, [end]), ir.Constant(I8, 0), left, ir.Constant(I1, 0)])
    b.branch(zeroed)
    b.position_at_end(zeroed)
    b.store(c64(INPUT_BASE - XDP_HEADROOM), slot_of(S_IN_BASE))
    b.store(b.ptrtoint(frame, I64), slot_of(S_IN_HOST))
    b.store(b.add(grown, c64(XDP_HEADROOM)), slot_of(S_IN_LEN))
    b.store(c64(XDP_HEADROOM), slot_of(S_HEAD))
    b.store(b.add(length, c64(XDP_HEADROOM)), slot_of(S_TAIL))
    linear = b.select(longer, c64(XDP_TAILROOM), length)      # data_end: the rest is in fragments
    for k, (offset, value) in enumerate(((0, c64(INPUT_BASE)), (4, b.add(c64(INPUT_BASE), linear)),
                                         (8, c64(INPUT_BASE)))):
        b.store(c64(CONTEXT_BASE + offset), slot_of(S_POINTERS + 2 * k))
        b.store(value, slot_of(S_POINTERS + 2 * k + 1))
    b.store(c64(3), slot_of(S_NPOINTERS))
    b.branch(ran)

    b.position_at_end(skb)     # the packet's bytes (socket filters and cgroup skbs see them past the MAC header)
    b.call(memcpy, [frame, host, length, ir.Constant(I1, 0)])
    hidden = b.select(b.icmp_unsigned("==", layout, c64(L_SKB_L3)), c64(ETH_HLEN), c64(0))
    visible = b.sub(length, hidden)
    b.store(c64(INPUT_BASE), slot_of(S_IN_BASE))
    b.store(b.add(b.ptrtoint(frame, I64), hidden), slot_of(S_IN_HOST))
    b.store(visible, slot_of(S_IN_LEN))
    b.store(hidden, slot_of(S_HEAD))
    b.store(length, slot_of(S_TAIL))
    context = b.inttoptr(ctx, p8)
    b.call(memset, [context, ir.Constant(I8, 0), c64(SK_BUFF_SIZE), ir.Constant(I1, 0)])
    b.store(b.trunc(visible, I32), b.bitcast(context, I32.as_pointer()))      # len (wire_len stays 0)
    _eth_type_trans(b, context, host, length, ethertype)
    direct = b.icmp_unsigned("!=", b.and_(flags, c64(P_DIRECT)), c64(0))
    for k, (offset, value) in enumerate(((76, c64(INPUT_BASE)), (80, b.add(c64(INPUT_BASE), visible)))):
        b.store(c64(CONTEXT_BASE + offset), slot_of(S_POINTERS + 2 * k))
        b.store(value, slot_of(S_POINTERS + 2 * k + 1))
    b.store(b.select(direct, c64(2), c64(0)), slot_of(S_NPOINTERS))
    b.branch(ran)

    b.position_at_end(ran)
    r0 = b.call(entry, [state, c64(CONTEXT_BASE), c64(0)])
    status = b.load(slot_of(S_STATUS))
    initialised = b.icmp_unsigned("!=", b.load(slot_of(S_R0_SET)), c64(0))
    b.store(r0, b.gep(results, [i]))
    b.store(b.load(slot_of(S_HEAD)), b.gep(heads, [i]))
    b.store(b.load(slot_of(S_TAIL)), b.gep(tails, [i]))
    ok = b.and_(b.icmp_unsigned("==", status, c64(0)), initialised)
    i.add_incoming(b.add(i, c64(1)), ran)
    stop = fn.append_basic_block("stop")
    b.cbranch(ok, head, stop)
    b.position_at_end(stop)
    b.ret(i)
    b.position_at_end(done)
    b.ret(i)
