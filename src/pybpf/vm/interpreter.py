"""The interpreter: RFC 9669 semantics, one small closure per instruction.

At load each instruction becomes a closure specialised for its operation and operands
(``r[1] = (r[1] + 5) & M64``) that returns the index of the next instruction; the run
loop only calls them. That keeps the reading simple — each semantic rule lives in one
small function — and the cost near a hundred or two nanoseconds per instruction.

Registers hold unsigned 64-bit ints, or None until written: Python refuses arithmetic
on None, so reading an uninitialised register is caught without a check per operand.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.vm.analysis import reads
from pybpf.vm.constants import DEFAULT_MAX_INSTRUCTIONS, M64, MAP_HANDLE_BASE  # noqa: F401 (also read from here)
from pybpf.vm.errors import VMError
from pybpf.vm.memory import INPUT_BASE, STACK_TOP, Memory
from pybpf.vm.program import CheckedProgram, map_value_address

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

M32 = 0xFFFF_FFFF
MAX_FRAMES = 8
EXIT = -1
#: where a callback's frame returns to: back into the helper that called it
CALLBACK_RETURN = -2
Step = Callable[[list], int]


class _PacketOutOfBounds(Exception):
    """A legacy packet load past the end: the kernel ends the program with r0 = 0."""


class _Charged(Exception):
    """A helper charged work to the budget (:meth:`Machine.charge`): the run loop counts
    it and goes on at ``resume``."""

    def __init__(self, resume: int):
        super().__init__(resume)
        self.resume = resume


def check_budget(max_instructions: int) -> None:
    """Refuse a budget no run can keep (``max_instructions`` below 1)."""
    if not isinstance(max_instructions, int) or max_instructions < 1:
        raise VMError(f"max_instructions must be a whole number of at least 1, not {max_instructions!r}")


def budget_exhausted(max_instructions: int) -> str:
    """The message of a run stopped by its budget (the interpreter's and the JIT's)."""
    return (f"the program ran {max_instructions} instructions without finishing "
            "(raise max_instructions if it is meant to run longer)")


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


def _sext(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _tdiv(a: int, b: int) -> int:
    """Signed division truncating toward zero (C's /)."""
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _tmod(a: int, b: int) -> int:
    """Signed remainder with the dividend's sign (C's %)."""
    m = abs(a) % abs(b)
    return -m if a < 0 else m


# --- ALU operations on (a, b) already reduced to the operation's width -----------------

def _alu_fn(code: int, signed: bool, bits: int) -> Callable[[int, int], int]:
    mask, shift_mask = (M64, 63) if bits == 64 else (M32, 31)
    to_signed = _s64 if bits == 64 else _s32
    if code == o.ADD:
        return lambda a, b: (a + b) & mask
    if code == o.SUB:
        return lambda a, b: (a - b) & mask
    if code == o.MUL:
        return lambda a, b: (a * b) & mask
    if code == o.OR:
        return lambda a, b: a | b
    if code == o.AND:
        return lambda a, b: a & b
    if code == o.XOR:
        return lambda a, b: a ^ b
    if code == o.LSH:
        return lambda a, b: (a << (b & shift_mask)) & mask
    if code == o.RSH:
        return lambda a, b: a >> (b & shift_mask)
    if code == o.ARSH:
        return lambda a, b: (to_signed(a) >> (b & shift_mask)) & mask
    if code == o.MOV:
        return lambda a, b: b
    if code == o.DIV and signed:
        return lambda a, b: _tdiv(to_signed(a), to_signed(b)) & mask if b else 0
    if code == o.DIV:
        return lambda a, b: a // b if b else 0
    if code == o.MOD and signed:
        return lambda a, b: _tmod(to_signed(a), to_signed(b)) & mask if b else a
    return lambda a, b: a % b if b else a


def _swap(value: int, bits: int) -> int:
    return int.from_bytes((value & ((1 << bits) - 1)).to_bytes(bits // 8, "little"), "big")


_JUMP_TESTS: dict[int, Callable[[int, int], bool]] = {
    o.JEQ: lambda a, b: (a ^ b) == 0, o.JNE: lambda a, b: (a ^ b) != 0,
    o.JGT: lambda a, b: a > b, o.JGE: lambda a, b: a >= b, o.JLT: lambda a, b: a < b, o.JLE: lambda a, b: a <= b,
    o.JSET: lambda a, b: (a & b) != 0,
}
_SIGNED_JUMPS = {o.JSGT: o.JGT, o.JSGE: o.JGE, o.JSLT: o.JLT, o.JSLE: o.JLE}


@dataclass
class Frame:
    """What a bpf-to-bpf call saves: where to return, r6-r9, and the caller's stack."""

    return_to: int
    saved: list
    stack_base: int


@dataclass
class Machine:
    """The state of one run: registers, memory, call frames, captured output."""

    program: CheckedProgram
    memory: Memory = field(default_factory=Memory)
    #: helper id → implementation; None: the registry (:data:`pybpf.vm.helpers.HELPERS`),
    #: imported when the first call is compiled (a program without calls runs without it)
    helpers: dict[int, Callable[..., int]] | None = None
    cpu: int = 0
    regs: list = field(default_factory=lambda: [None] * 11)
    frames: list[Frame] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    exit_index: int = 0
    calling: int = 0
    #: budget units helpers charged during the current call (see :meth:`charge`)
    charged: int = 0
    #: the run's budget (set by :meth:`run`; callbacks are held to it)
    max_instructions: int = DEFAULT_MAX_INSTRUCTIONS

    def __post_init__(self) -> None:
        self.steps = [self._compile(i, ins) for i, ins in enumerate(self.program.instructions)]

    def charge(self, units: int) -> None:
        """Count ``units`` instructions' worth of helper work in the run's budget (the
        cost model is in docs/vm.md): a program that loops over an expensive helper is
        stopped by ``max_instructions`` as a loop of plain instructions is."""
        self.charged += units

    # --- compile ---------------------------------------------------------------------

    def _compile(self, index: int, ins: Instruction) -> Step:
        kind = ins.cls
        nxt = index + 1
        if kind in (o.ALU, o.ALU64):
            return self._alu(ins, nxt)
        if kind in (o.JMP, o.JMP32):
            return self._jmp(index, ins, nxt)
        if kind == o.LD:
            return self._ld(index, ins, nxt)
        if kind == o.LDX:
            return self._ldx(ins, nxt)
        if kind == o.ST:
            return self._st(ins, nxt)
        return self._stx(ins, nxt)

    def _alu(self, ins: Instruction, nxt: int) -> Step:
        d, s, code = ins.dst, ins.src, o.op(ins.opcode)
        wide = ins.cls == o.ALU64
        mask = M64 if wide else M32
        by_reg = o.source(ins.opcode) == o.X
        if code == o.NEG:
            def neg(r: list) -> int:
                r[d] = (-(r[d] & mask)) & mask
                return nxt
            return neg
        if code == o.END:
            bits = ins.imm
            swap = wide or by_reg  # bswap (ALU64), or to-big-endian on this little-endian VM

            def end(r: list) -> int:
                r[d] = _swap(r[d], bits) if swap else r[d] & ((1 << bits) - 1)
                return nxt
            return end
        if code == o.MOV and by_reg:
            if ins.off:
                bits = ins.off

                def movsx(r: list) -> int:
                    r[d] = _sext(r[s], bits) & mask
                    return nxt
                return movsx

            def mov(r: list) -> int:
                value = r[s]
                if value is None:
                    raise TypeError("uninitialised")
                r[d] = value & mask
                return nxt
            return mov
        fn = _alu_fn(code, ins.off == 1, 64 if wide else 32)
        if by_reg:
            def alu_reg(r: list) -> int:
                r[d] = fn(r[d] & mask, r[s] & mask)
                return nxt
            return alu_reg
        k = ins.imm & mask
        if code == o.MOV:
            def mov_imm(r: list) -> int:
                r[d] = k
                return nxt
            return mov_imm

        def alu_imm(r: list) -> int:
            r[d] = fn(r[d] & mask, k)
            return nxt
        return alu_imm

    def _jmp(self, index: int, ins: Instruction, nxt: int) -> Step:
        code, d, s = o.op(ins.opcode), ins.dst, ins.src
        if code == o.EXIT:
            return lambda r: self._exit(r, index)
        if code == o.CALL:
            return self._call(index, ins, nxt)
        target = self.program.target(index, ins.jump_offset)
        if code == o.JA:
            return lambda r: target
        mask = M64 if ins.cls == o.JMP else M32
        test = _JUMP_TESTS.get(code) or _JUMP_TESTS[_SIGNED_JUMPS[code]]
        signed = code in _SIGNED_JUMPS
        conv = (_s64 if mask == M64 else _s32) if signed else None
        if o.source(ins.opcode) == o.X:
            if conv:
                return lambda r: target if test(conv(r[d] & mask), conv(r[s] & mask)) else nxt
            return lambda r: target if test(r[d] & mask, r[s] & mask) else nxt
        k = ins.imm & mask
        if conv:
            ks = conv(k)
            return lambda r: target if test(conv(r[d] & mask), ks) else nxt
        return lambda r: target if test(r[d] & mask, k) else nxt

    def _helpers(self) -> dict[int, Callable[..., int]]:
        """The helper table, the registry's when none was given (imported now)."""
        if self.helpers is None:
            from pybpf.vm.helpers import HELPERS

            self.helpers = HELPERS
        return self.helpers

    def _call(self, index: int, ins: Instruction, nxt: int) -> Step:
        if o.source(ins.opcode) == o.X:  # callx: the helper id is in dst
            reg = ins.dst
            table = self._helpers()

            def callx(r: list) -> int:
                fn = table.get(r[reg] & M64)
                if fn is None:
                    raise VMError(f"callx r{reg}: {r[reg]} is not a helper this engine implements")
                return self._helper(fn, r, nxt)
            return callx
        if ins.src == o.CALL_PSEUDO:
            target = self.program.target(index, ins.imm)

            def local(r: list) -> int:
                self._enter(r, nxt)
                return target
            return local
        fn = self._helpers()[ins.imm]
        return lambda r: self._helper(fn, r, nxt)

    def _enter(self, r: list, return_to: int) -> None:
        """A new frame for a bpf-to-bpf call: r6-r10 saved, a fresh stack."""
        if len(self.frames) + 1 >= MAX_FRAMES:
            raise VMError(f"bpf-to-bpf calls nested more than {MAX_FRAMES} frames deep")
        base = STACK_TOP - (len(self.frames) + 2) * 0x10000
        self.frames.append(Frame(return_to, r[6:11], base))
        self.memory.map(bytearray(o.STACK_SIZE), writable=True, name=f"stack of frame {len(self.frames)}",
                        base=base, aligned=True)
        r[10] = base + o.STACK_SIZE

    def _helper(self, fn: Callable[..., int], r: list, nxt: int) -> int:
        self.calling = nxt - 1  # the call instruction, for helpers that report where they are
        result = fn(self, r[1], r[2], r[3], r[4], r[5])
        r[0] = result & M64
        r[1] = r[2] = r[3] = r[4] = r[5] = None  # caller-saved: the callee may have changed them
        if self.charged:
            raise _Charged(nxt)
        return nxt

    def call_function(self, target: int, *args: int) -> int:
        """Run the program's function at instruction ``target`` with r1.. = ``args`` (a
        helper's callback: bpf_loop, bpf_for_each_map_elem) and return its r0. It runs in
        a frame of its own, as a bpf-to-bpf call does; its instructions count in the run's
        budget (charged when the calling helper returns)."""
        r, steps = self.regs, self.steps
        caller = r[:]
        self._enter(r, CALLBACK_RETURN)
        r[1:6] = [*args, *[None] * (5 - len(args))]
        pc, executed = target, 0
        try:
            while pc >= 0:
                try:
                    pc = steps[pc](r)
                except _Charged as charged:     # a helper's charge: kept in self.charged for the run
                    pc = charged.resume
                executed += 1
                if executed + self.charged > self.max_instructions:
                    raise VMError(budget_exhausted(self.max_instructions))
        except VMError as exc:
            raise exc if exc.index is not None else VMError(exc.reason, self.program.slots[pc]) from None
        except TypeError:
            raise VMError(self._uninitialised(pc), self.program.slots[pc]) from None
        if pc != CALLBACK_RETURN:
            raise VMError("a callback ended the program (bpf_exit in a callback returns from it)")
        result = r[0]
        if result is None:
            raise VMError("r0 is not initialised when the callback returns", self.program.slots[self.exit_index])
        r[:] = caller
        self.charged += executed
        return result

    def _exit(self, r: list, index: int) -> int:
        if not self.frames:
            self.exit_index = index
            return EXIT
        frame = self.frames.pop()
        self.memory.unmap(frame.stack_base)
        r[6:11] = frame.saved
        r[1] = r[2] = r[3] = r[4] = r[5] = None
        return frame.return_to

    def _ld(self, index: int, ins: Instruction, nxt: int) -> Step:
        if ins.is_lddw:
            d = ins.dst
            if ins.src == o.PSEUDO_FUNC:
                relative = _s32(ins.imm)
                value = self.program.target(index, relative)  # callbacks: the instruction index
            elif ins.src == o.PSEUDO_MAP_FD:
                value = MAP_HANDLE_BASE + (ins.imm & M32)      # an opaque pointer the map helpers decode
            elif ins.src == o.PSEUDO_MAP_VALUE:                # global data: element 0 of an array map
                value = map_value_address(self.program, index, self.memory, self.cpu)
            else:
                value = ins.imm

            def lddw(r: list) -> int:
                r[d] = value
                return nxt
            return lddw
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        k, s, indirect = ins.imm, ins.src, o.mode(ins.opcode) == o.IND
        memory = self.memory

        def packet(r: list) -> int:
            offset = ((r[s] & M32) + k) & M32 if indirect else k & M32
            try:
                r[0] = memory.load_big_endian(INPUT_BASE + offset, size)
            except VMError:
                raise _PacketOutOfBounds() from None
            return nxt
        return packet

    def _ldx(self, ins: Instruction, nxt: int) -> Step:
        d, s, off = ins.dst, ins.src, ins.off
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        memory = self.memory
        if o.mode(ins.opcode) == o.MEMSX:
            def ldxs(r: list) -> int:
                r[d] = memory.load_signed((r[s] + off) & M64, size) & M64
                return nxt
            return ldxs

        def ldx(r: list) -> int:
            r[d] = memory.load((r[s] + off) & M64, size)
            return nxt
        return ldx

    def _st(self, ins: Instruction, nxt: int) -> Step:
        d, off, k = ins.dst, ins.off, ins.imm
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        memory = self.memory

        def st(r: list) -> int:
            memory.store((r[d] + off) & M64, size, k)
            return nxt
        return st

    def _stx(self, ins: Instruction, nxt: int) -> Step:
        d, s, off = ins.dst, ins.src, ins.off
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        memory = self.memory
        if o.mode(ins.opcode) == o.MEM:
            def stx(r: list) -> int:
                memory.store((r[d] + off) & M64, size, r[s])
                return nxt
            return stx
        return self._atomic(ins.imm, d, s, off, size, nxt)

    def _atomic(self, op: int, d: int, s: int, off: int, size: int, nxt: int) -> Step:
        memory = self.memory
        mask = (1 << (8 * size)) - 1
        if op == o.LOAD_ACQ:
            def load_acquire(r: list) -> int:
                r[d] = memory.load((r[s] + off) & M64, size)
                return nxt
            return load_acquire
        if op == o.STORE_REL:
            def store_release(r: list) -> int:
                memory.store((r[d] + off) & M64, size, r[s])
                return nxt
            return store_release
        if op == o.CMPXCHG:
            def cmpxchg(r: list) -> int:
                address = (r[d] + off) & M64
                old = memory.load(address, size)
                if old == r[0] & mask:
                    memory.store(address, size, r[s])
                r[0] = old
                return nxt
            return cmpxchg
        if op == o.XCHG:
            def xchg(r: list) -> int:
                address = (r[d] + off) & M64
                old = memory.load(address, size)
                memory.store(address, size, r[s])
                r[s] = old
                return nxt
            return xchg
        fn = _alu_fn(op & ~o.FETCH, False, 64)
        fetch = bool(op & o.FETCH)

        def atomic(r: list) -> int:
            address = (r[d] + off) & M64
            old = memory.load(address, size)
            memory.store(address, size, fn(old, r[s] & mask))
            if fetch:
                r[s] = old
            return nxt
        return atomic

    # --- run ---------------------------------------------------------------------------

    def run(self, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> tuple[int, int]:
        """Run from the first instruction; returns (r0, budget used: the instructions
        executed plus the work helpers charged)."""
        check_budget(max_instructions)
        self.max_instructions = max_instructions
        steps, r = self.steps, self.regs
        pc = 0
        executed = 0
        try:
            while True:
                try:
                    first = executed + 1    # where the loop resumes after a helper's charge
                    for executed in range(first, max_instructions + 1):  # noqa: B007 - the count is the result
                        pc = steps[pc](r)
                        if pc < 0:
                            break
                    else:
                        raise VMError(budget_exhausted(max_instructions))
                    break
                except _Charged as charged:
                    executed += self.charged
                    self.charged = 0
                    if executed > max_instructions:
                        raise VMError(budget_exhausted(max_instructions)) from None
                    pc = charged.resume
        except _PacketOutOfBounds:
            return 0, executed
        except VMError as exc:
            if exc.index is None:
                raise VMError(exc.reason, self.program.slots[pc]) from None
            raise
        except TypeError:
            raise VMError(self._uninitialised(pc), self.program.slots[pc]) from None
        if r[0] is None:
            raise VMError("r0 is not initialised when the program exits", self.program.slots[self.exit_index])
        return r[0], executed

    def _uninitialised(self, pc: int) -> str:
        ins = self.program.instructions[pc]
        called = ins.opcode == o.JMP | o.CALL and o.source(ins.opcode) == o.K
        registers = (1, 2, 3, 4, 5) if called else reads(ins)
        named = sorted({f"r{n}" for n in registers if self.regs[n] is None})
        which = " or ".join(named) if named else "a register"
        return f"reads {which}, which has not been written (uninitialised register)"


@dataclass(frozen=True)
class ProgramRun:
    """One run: r0, what bpf_trace_printk printed, how many instructions ran, how long."""

    retval: int
    output: tuple[str, ...]
    instructions: int
    duration_ns: int


def run_program(program: bytes | list[Instruction] | CheckedProgram, mem: bytes = b"", *,
                max_instructions: int = DEFAULT_MAX_INSTRUCTIONS, cpu: int = 0,
                helpers: dict[int, Callable[..., int]] | None = None, jit: bool = False) -> ProgramRun:
    """Run with the conformance suite's convention: r1 points at a copy of ``mem``,
    r2 holds its length, r10 the top of a 512-byte stack. ``jit`` compiles the program to
    native code first (see :mod:`pybpf.vm.jit`); where that is not possible the
    interpreter runs it, and says so once on the ``pybpf.vm`` logger."""
    check_budget(max_instructions)
    checked = program if isinstance(program, CheckedProgram) else CheckedProgram(program, helpers)
    if jit:
        compiled = _compiled(checked)
        if compiled is not None:
            return compiled.run(mem, max_instructions=max_instructions, cpu=cpu, helpers=helpers, program=checked)
    machine = Machine(checked, helpers=helpers, cpu=cpu)
    machine.memory.map(bytearray(mem), writable=True, name="mem", base=INPUT_BASE)
    stack_base = STACK_TOP - 0x10000
    machine.memory.map(bytearray(o.STACK_SIZE), writable=True, name="stack", base=stack_base, aligned=True)
    machine.regs[1], machine.regs[2], machine.regs[10] = INPUT_BASE, len(mem), stack_base + o.STACK_SIZE
    start = time.perf_counter_ns()
    retval, executed = machine.run(max_instructions)
    return ProgramRun(retval, tuple(machine.output), executed, time.perf_counter_ns() - start)


def _compiled(program: CheckedProgram) -> Any:
    """The JIT-compiled program, or None (with a notice) where the JIT cannot run it."""
    try:
        from pybpf.vm.jit import JitUnsupported, compile_program
    except ImportError as exc:  # llvmlite missing or unusable on this platform
        _notice(f"the JIT is unavailable ({exc}); interpreting")
        return None
    try:
        return compile_program(program)
    except JitUnsupported as exc:
        _notice(f"the JIT cannot compile this program ({exc}); interpreting")
        return None


def _notice(message: str) -> None:
    if message not in _NOTICES:
        _NOTICES.add(message)
        import logging  # only to say so (~4 ms of a start-up otherwise)

        logging.getLogger("pybpf.vm").warning(message)


_NOTICES: set[str] = set()


def run(program: bytes | list[Instruction] | CheckedProgram, mem: bytes = b"", *, jit: bool | None = None,
        **options: Any) -> int:
    """r0 (unsigned 64-bit) after running ``program`` on ``mem``; compiled with the JIT
    by default where llvmlite imports (``jit=False`` forces the interpreter)."""
    return run_program(program, mem, jit=JIT_DEFAULT if jit is None else jit, **options).retval


def _jit_importable() -> bool:
    """Whether llvmlite is installed (found, not imported: importing its binding costs
    ~30 ms, and code loaded from the JIT's disk cache never needs it). Found as
    ``importlib.util.find_spec`` finds a top-level module, by asking the import system's
    finders, without importing importlib.util (with contextlib: ~1 ms of every vm run)."""
    if "llvmlite" in sys.modules:
        return True
    return any(getattr(finder, "find_spec", None) is not None and finder.find_spec("llvmlite", None) is not None
               for finder in sys.meta_path)


#: whether ``run`` compiles by default
JIT_DEFAULT = _jit_importable()
