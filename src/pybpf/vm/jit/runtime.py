"""Compiling the translated module with llvmlite, running it, and turning its faults
into the interpreter's VMErrors.

Compiled code calls back into Python for helpers and for addresses outside its own stack
and the input (the stacks of calling frames). Those callbacks are two process-wide
C functions that find the run they belong to through the state array's address, so any
number of compiled programs share them. Compiled programs are cached by content hash.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import llvmlite.binding as llvm

from pybpf.isa import Instruction, encode
from pybpf.vm.errors import VMError
from pybpf.vm.helpers import HELPERS
from pybpf.vm.interpreter import DEFAULT_MAX_INSTRUCTIONS, RunResult
from pybpf.vm.jit import translate as t
from pybpf.vm.memory import INPUT_BASE, STACK_TOP, Memory
from pybpf.vm.program import Program

_HELPER_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *([ctypes.c_uint64] * 6))
_SLOW_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
_ENTRY = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
_BATCH = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64,
                          ctypes.c_void_p)
_MASK64 = (1 << 64) - 1

#: runs in progress, by the address of their state array
_RUNS: dict[int, "_Run"] = {}
_lock = threading.Lock()
_initialised = False


class _JitMemory:
    """What helpers see as ``vm.memory`` during a compiled run: reads and writes through
    the same regions the compiled code uses (input buffer, live stack frames)."""

    def __init__(self, run: "_Run"):
        self.run = run

    def _host(self, address: int, size: int, write: bool) -> int:
        run = self.run
        depth = run.state[t.S_DEPTH]
        if INPUT_BASE <= address and address + size <= INPUT_BASE + run.length:
            return run.state[t.S_IN_HOST] + address - INPUT_BASE
        for k in range(depth + 1):
            base = STACK_TOP - (k + 1) * 0x10000
            if base <= address and address + size <= base + 512:
                return run.state[t.S_FRAMES + k] + address - base
        run.shadow(depth).region(address, size, write, access=False)  # raises the interpreter's message
        raise VMError(f"invalid access of {size} bytes at 0x{address:x}")

    def read_bytes(self, address: int, size: int) -> bytes:
        return ctypes.string_at(self._host(address, size, False), size)

    def read_string(self, address: int, limit: int = 4096) -> bytes:
        data = b""
        while len(data) < limit:
            chunk = self.read_bytes(address + len(data), 1)
            if chunk == b"\0":
                return data
            data += chunk
        raise VMError(f"string at 0x{address:x} is not NUL-terminated within {limit} bytes")


class _Run:
    """The Python side of one compiled run: state, input, output, helper errors."""

    def __init__(self, helpers: dict[int, Callable[..., int]], cpu: int):
        self.state = (ctypes.c_uint64 * t.STATE_SLOTS)()
        self.helpers = helpers
        self.cpu = cpu
        self.output: list[str] = []
        self.error: BaseException | None = None
        self.memory = _JitMemory(self)
        self.length = 0
        self.buffer: Any = None

    def shadow(self, depth: int) -> Memory:
        """A Memory laid out like the compiled run's (for the interpreter's messages)."""
        memory = Memory()
        memory.map(bytearray(self.length), writable=True, name="mem", base=INPUT_BASE)
        for k in range(depth + 1):
            name = "stack" if k == 0 else f"stack of frame {k}"
            memory.map(bytearray(512), writable=True, name=name, base=STACK_TOP - (k + 1) * 0x10000, aligned=True)
        return memory


@_HELPER_CB
def _helper_callback(state: int, helper_id: int, *args: int) -> int:
    run = _RUNS[state]
    set_mask = run.state[t.S_WRITE]
    values = [value if set_mask & (1 << (n + 1)) else None for n, value in enumerate(args)]
    try:
        fn = run.helpers.get(helper_id)
        if fn is None:
            raise VMError(f"callx: {helper_id} is not a helper this engine implements")
        return fn(run, *values) & _MASK64
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller of run()
        run.error = exc
        run.state[t.S_STATUS] = t.F_HELPER
        return 0


@_SLOW_CB
def _translate_callback(state: int, address: int, size: int, depth: int) -> int:
    run = _RUNS[state]
    for k in range(depth):  # the calling frames' stacks (this frame's is checked inline)
        base = STACK_TOP - (k + 1) * 0x10000
        if base <= address and address + size <= base + 512:
            if address % size:
                return 0
            return run.state[t.S_FRAMES + k] + address - base
    return 0


def _machine() -> Any:
    """A fresh target machine (an execution engine takes ownership of the one it gets)."""
    global _initialised
    if not _initialised:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.add_symbol("bpf_helper", ctypes.cast(_helper_callback, ctypes.c_void_p).value)
        llvm.add_symbol("bpf_translate", ctypes.cast(_translate_callback, ctypes.c_void_p).value)
        _initialised = True
    return llvm.Target.from_default_triple().create_target_machine(opt=3, jit=True)


class CompiledProgram:
    """A program compiled to native code (share it: runs are independent)."""

    def __init__(self, program: Program, opt: int = 3):
        with _lock:
            machine = _machine()
            start = time.perf_counter()
            module = t.Translator(program).translate()
            module.triple = llvm.get_process_triple()
            parsed = llvm.parse_assembly(str(module))
            parsed.verify()
            builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=opt))
            builder.getModulePassManager().run(parsed, builder)
            self._engine = llvm.create_mcjit_compiler(parsed, machine)
            self._engine.finalize_object()
            self.compile_seconds = time.perf_counter() - start
        self.program = program
        self._entry = _ENTRY(self._engine.get_function_address("bpf_entry"))
        self._batch = _BATCH(self._engine.get_function_address("bpf_batch"))

    def _prepare(self, run: _Run, mem: bytearray, max_instructions: int) -> None:
        run.length = len(mem)
        run.buffer = (ctypes.c_char * max(len(mem), 1)).from_buffer(mem) if mem else ctypes.create_string_buffer(1)
        state = run.state
        state[t.S_BUDGET] = max_instructions
        state[t.S_IN_BASE] = INPUT_BASE
        state[t.S_IN_HOST] = ctypes.addressof(run.buffer)
        state[t.S_IN_LEN] = len(mem)
        state[t.S_CPU] = run.cpu

    def run(self, mem: bytes | bytearray = b"", *, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS, cpu: int = 0,
            helpers: dict[int, Callable[..., int]] | None = None) -> RunResult:
        """Run once with the conformance convention (r1 = input, r2 = its length)."""
        run = _Run(helpers if helpers is not None else HELPERS, cpu)
        buffer = mem if isinstance(mem, bytearray) else bytearray(mem)
        self._prepare(run, buffer, max_instructions)
        address = ctypes.addressof(run.state)
        _RUNS[address] = run
        start = time.perf_counter_ns()
        try:
            r0 = self._entry(address, INPUT_BASE, len(buffer))
        finally:
            del _RUNS[address]
        elapsed = time.perf_counter_ns() - start
        retval = self._outcome(run, r0, max_instructions)
        return RunResult(retval, tuple(run.output), max_instructions - _signed(run.state[t.S_BUDGET]), elapsed)

    def run_many(self, inputs: Sequence[bytes], *, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> list[int]:
        """r0 for every input, computed in one native loop (the budget is per input)."""
        run = _Run(HELPERS, 0)
        buffers = [bytearray(data) for data in inputs]
        arrays = [(ctypes.c_char * max(len(b), 1)).from_buffer(b) if b else ctypes.create_string_buffer(1)
                  for b in buffers]
        hosts = (ctypes.c_uint64 * len(inputs))(*[ctypes.addressof(a) for a in arrays])
        lengths = (ctypes.c_uint64 * len(inputs))(*[len(b) for b in buffers])
        results = (ctypes.c_uint64 * len(inputs))()
        self._prepare(run, bytearray(), max_instructions)
        address = ctypes.addressof(run.state)
        _RUNS[address] = run
        try:
            done = self._batch(address, ctypes.addressof(hosts), ctypes.addressof(lengths), len(inputs),
                               ctypes.addressof(results))
        finally:
            del _RUNS[address]
        if done < len(inputs):
            run.length = len(buffers[done])
            self._outcome(run, 0, max_instructions)   # raises the fault of input ``done``
        return list(results)

    def _outcome(self, run: _Run, r0: int, max_instructions: int) -> int:
        state = run.state
        status, slot = state[t.S_STATUS], state[t.S_SLOT]
        if status == 0:
            if not state[t.S_WRITE]:
                raise VMError("r0 is not initialised when the program exits", slot)
            return r0
        if status == t.F_PACKET:
            return 0
        if status == t.F_BUDGET:  # the instruction the interpreter would have stopped at
            index = self.program.index_of_slot[slot] + state[t.S_ADDR]
            raise VMError(f"the program ran {max_instructions} instructions without finishing "
                          "(raise max_instructions if it is meant to run longer)", self.program.slots[index])
        if status == t.F_UNINIT:
            raise VMError(f"reads r{state[t.S_WRITE]}, which has not been written (uninitialised register)", slot)
        if status == t.F_DEPTH:
            raise VMError("bpf-to-bpf calls nested more than 8 frames deep", slot)
        if status == t.F_HELPER:
            error = run.error
            if isinstance(error, VMError):
                raise VMError(error.reason, slot if error.index is None else error.index) from None
            if isinstance(error, TypeError):
                raise VMError("a helper read an argument register that has not been written "
                              "(uninitialised register)", slot) from None
            assert error is not None
            raise error
        try:
            run.shadow(state[t.S_DEPTH]).region(state[t.S_ADDR], state[t.S_SIZE], bool(state[t.S_WRITE]))
        except VMError as exc:
            raise VMError(exc.reason, slot) from None
        raise VMError(f"invalid access of {state[t.S_SIZE]} bytes at 0x{state[t.S_ADDR]:x}", slot)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


_CACHE: OrderedDict[bytes, CompiledProgram] = OrderedDict()
CACHE_SIZE = 128


def compile_program(program: bytes | Sequence[Instruction] | Program) -> CompiledProgram:
    """The compiled form of ``program``, from the cache when the same code ran before."""
    checked = program if isinstance(program, Program) else Program(program)
    key = hashlib.sha256(encode(checked.instructions)).digest()
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    compiled = CompiledProgram(checked)
    _CACHE[key] = compiled
    if len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled
