"""Compiling the translated module with llvmlite, running it, and turning its faults
into the interpreter's VMErrors.

Compiled code calls back into Python for helpers and for addresses outside its own stack
and the input (the stacks of calling frames). Those callbacks are two process-wide
C functions, passed to the code in its state array, that find the run they belong to
through the state array's address, so any number of compiled programs share them.

Compiled programs are cached twice: in memory by content hash (:func:`compile_program`),
and on disk as shared objects (:mod:`pybpf.vm.jit.native`), so that a new process loads
a program it compiled before in a fraction of a millisecond. Loading from disk needs
neither llvmlite nor the translator, and this module imports them (and the
interpreter's modules) only when it compiles — the path ``pybpf filter`` takes through
here on a warm cache imports almost nothing.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time

from pybpf._once import once
from pybpf.cache import files_digest, sha256
from pybpf.vm.constants import DEFAULT_MAX_INSTRUCTIONS
from pybpf.vm.errors import VMError
from pybpf.vm.jit import abi as t
from pybpf.vm.jit import native

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from pybpf.isa import Instruction
    from pybpf.vm.interpreter import ProgramRun
    from pybpf.vm.jit.lookups import NativeLookups
    from pybpf.vm.memory import Memory
    from pybpf.vm.program import CheckedProgram

_HELPER_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *([ctypes.c_uint64] * 6))
_SLOW_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
_MASK64 = (1 << 64) - 1
#: bpf_map_lookup_elem: in a batch, answered through the run's NativeLookups
MAP_LOOKUP_ELEM = 1
#: :data:`pybpf.vm.memory.INPUT_BASE` and ``STACK_TOP`` (tests check they agree): that module
#: is imported only to build fault messages, as it imports dataclasses (and inspect: ~7 ms)
INPUT_BASE, STACK_TOP = 0x0000_0001_0000_0000, 0x0000_7FFF_0000_0000

#: runs in progress, by the address of their state array
_RUNS: dict[int, _Run] = {}
#: the optimisation level programs are compiled at, and the level for programs of more
#: than LARGE instruction slots (a cheaper pipeline whose time grows linearly: see
#: native.object_code and docs/jit.md)
OPT, LARGE_OPT, LARGE = 3, 0, 256


def opt_level(count: int) -> int:
    """The optimisation level for a program of ``count`` instruction slots."""
    return OPT if count <= LARGE else LARGE_OPT


class _Frame:
    """A calling frame as helpers see it (``return_to``: the index after its call)."""

    def __init__(self, return_to: int):
        self.return_to = return_to


class _Run:
    """The Python side of one compiled run: state, input, output, helper errors — and,
    for helpers, what they read from the interpreter's Machine (``memory``, ``program``,
    ``cpu``, ``output``, ``calling``, ``frames``)."""

    def __init__(self, helpers: dict[int, Callable[..., int]] | None, cpu: int,
                 program: Callable[[], CheckedProgram] | None = None):
        self.state = (ctypes.c_uint64 * t.STATE_SLOTS)()
        #: ``None``: the registry (pybpf.vm.helpers.HELPERS), looked up on the first call
        self.helpers = helpers
        self.cpu = cpu
        self.output: list[str] = []
        self.error: BaseException | None = None
        self.buffer: Any = None
        #: gives the checked program (set by CompiledProgram._prepare when None)
        self._program = program
        self._memory: Memory | None = None
        #: an engine run's (:class:`EngineRun`): its memory holds the context, the packet
        #: and the main stack; this run maps only calling frames' stacks into it
        self.engine = False
        self._regions_seen: tuple = ()
        #: an engine run over a batch of packets (:meth:`EngineRun.packets`): the packet is
        #: the state's input (helpers see it as a region), its pointers are native, and
        #: each packet starts from ``_fresh`` (the regions and dynamic base before it)
        self.batch = False
        self._fresh: tuple[list, int] | None = None
        self._fresh_version = -1
        self._packet = 0
        #: a batch's packet region, whose bytes change from packet to packet
        self._input: Any = None
        #: host address of each region's bytes (kept exported while the run lasts)
        self._hosts: dict[int, tuple[Any, ...]] = {}
        self._layout: tuple[int, ...] = ()
        #: a batch's native map lookups (:class:`pybpf.vm.jit.lookups.NativeLookups`)
        self.lookups: NativeLookups | None = None

    @property
    def program(self) -> CheckedProgram:
        assert self._program is not None, "a run prepared by CompiledProgram._prepare"
        return self._program()

    @property
    def calling(self) -> int:
        """The index of the helper call in progress."""
        return self.program.index_of_slot[self.state[t.S_SLOT]]

    @property
    def frames(self) -> list[_Frame]:
        """The calling frames, outermost first (as the interpreter's ``Machine.frames``)."""
        index = self.program.index_of_slot
        return [_Frame(index[self.state[t.S_CALLS + k]] + 1) for k in range(1, self.state[t.S_DEPTH] + 1)]

    @property
    def memory(self) -> Memory:
        """The interpreter's memory layout over the compiled run's own bytes: the input, the
        live frames' stacks, and what helpers mapped (map values, ring-buffer records)."""
        return self.memory_at(self.state[t.S_DEPTH])

    def memory_at(self, depth: int) -> Memory:
        from pybpf.vm.memory import Memory

        state = self.state
        if self._memory is None:
            self._memory = Memory()
        memory = self._memory
        first = 1 if self.engine else 0     # an engine run's input and main stack are the engine's own
        own_input = not self.engine or self.batch
        layout = (state[t.S_IN_HOST], state[t.S_IN_LEN], *(state[t.S_FRAMES + k] for k in range(first, depth + 1)))
        if layout != self._layout and self._input is not None and layout[2:] == self._layout[2:]:
            # a batch's next packet: the input region (not in the native tables) takes its bytes
            self._input.data = self._view(state[t.S_IN_HOST], state[t.S_IN_LEN])
            self._layout = layout
        if layout != self._layout:      # input or frames changed since the last look: remap them
            memory.unmap(*((state[t.S_IN_BASE],) if own_input and self._input is None else ()),
                         *(STACK_TOP - (k + 1) * 0x10000 for k in range(first, t.MAX_FRAMES)))
            if self._input is not None:
                self._input.data = self._view(state[t.S_IN_HOST], state[t.S_IN_LEN])
            elif own_input:
                self._native_region(memory, "mem" if not self.engine else "packet", state[t.S_IN_BASE],
                                    state[t.S_IN_HOST], state[t.S_IN_LEN], False)
            for k in range(first, depth + 1):
                self._native_region(memory, "stack" if k == 0 else f"stack of frame {k}",
                                    STACK_TOP - (k + 1) * 0x10000, state[t.S_FRAMES + k], 512, True)
            self._layout = layout
        return memory

    def export(self, data: Any) -> int:
        """The host address of a region's bytes (exported while the run lasts)."""
        known = self._hosts.get(id(data))
        if known is None or known[1] is not data:
            exported = ctypes.c_char.from_buffer(data)
            known = self._hosts[id(data)] = (ctypes.addressof(exported), data, exported)
        return known[0]

    def sync_regions(self) -> None:
        """Copy an engine run's regions into the state's tables (after a helper mapped a
        map value or moved an XDP packet's start): the regions compiled code reaches
        without a callback, and the context's pointer fields."""
        memory = self._memory
        assert memory is not None
        regions = memory.regions
        seen = (memory.version, *(() if self.batch else (tuple(r.pointers.items()) for r in regions if r.pointers)))
        if seen == self._regions_seen:
            return
        self._regions_seen = seen
        state, count, pointers = self.state, 0, 0
        in_base = state[t.S_IN_BASE]
        for region in regions:
            for offset, value in (region.pointers or {}).items() if not self.batch else ():
                if pointers < t.MAX_POINTERS:
                    state[t.S_POINTERS + 2 * pointers] = region.base + offset
                    state[t.S_POINTERS + 2 * pointers + 1] = value
                    pointers += 1
            if region.aligned or region.base == in_base or not len(region.data) or count == t.MAX_REGIONS:
                continue        # stacks (alignment rules), the packet (its own path), and overflow: callbacks
            slot = t.S_REGIONS + count * t.REGION_SLOTS
            state[slot], state[slot + 1] = region.base, region.base + len(region.data)
            state[slot + 2], state[slot + 3] = self.export(region.data), t.R_WRITABLE if region.writable else 0
            element = region.element
            state[slot + 4] = element[0] << t.ELEMENT_SHIFT | element[1] if element else 0
            count += 1
        state[t.S_NREGIONS] = count
        if not self.batch:
            state[t.S_NPOINTERS] = pointers

    def next_packet(self) -> None:
        """In a batch, when a helper runs for a packet after the one before: the memory
        as a fresh run has it (what earlier packets' helpers mapped is gone, dynamic
        addresses start again), and no run state of theirs."""
        if self._packet == self.state[t.S_PACKET] or self._fresh is None:
            return
        self._packet = self.state[t.S_PACKET]
        for key in ("mapped_values", "reserved", "output_bytes", "output_dropped"):
            self.__dict__.pop(key, None)
        memory = self._memory
        assert memory is not None
        released = self.lookups is not None and self.lookups.release_stale()
        if memory.version == self._fresh_version and not released:   # nothing mapped since: as fresh as it gets
            return
        self._release_dynamic()
        regions, dynamic = self._fresh
        memory.regions, memory._next_dynamic = list(regions), dynamic
        memory.version += 1
        self._fresh_version = memory.version

    def _release_dynamic(self) -> None:
        """Let go of the exports of regions a packet's helpers mapped (a batch's next
        packet starts from the memory before them)."""
        assert self._fresh is not None
        keep = {id(region.data) for region in self._fresh[0] if region is not self._input}
        self._hosts = {key: value for key, value in self._hosts.items() if key in keep}

    def release(self) -> None:
        """Let go of the exported buffers (so their owners may resize them again)."""
        self._hosts.clear()
        self._layout = self._regions_seen = ()
        self.buffer = None

    @staticmethod
    def _view(host: int, size: int) -> Any:
        return memoryview((ctypes.c_char * size).from_address(host)).cast("B") if size else bytearray()

    def _native_region(self, memory: Memory, name: str, base: int, host: int, size: int, aligned: bool) -> None:
        data = self._view(host, size)
        memory.map(data, writable=True, name=name, base=base, aligned=aligned)
        self._hosts[id(data)] = (host, data)

    #: the run's budget (set when the run is prepared), for :meth:`charge`'s message
    max_instructions: int = DEFAULT_MAX_INSTRUCTIONS

    def charge(self, units: int) -> None:
        """Helper work counted in the budget, as :meth:`pybpf.vm.interpreter.Machine.charge`."""
        left = _signed(self.state[t.S_BUDGET]) - units
        if left < 0:
            from pybpf.vm.interpreter import budget_exhausted

            raise VMError(budget_exhausted(self.max_instructions))
        self.state[t.S_BUDGET] = left

    def host_address(self, address: int, size: int, write: bool, depth: int) -> int:
        """The host address of a checked access outside the current frame's stack and the
        input (calling frames' stacks, map values), or 0 where the interpreter faults."""
        try:
            region, offset = self.memory_at(depth).region(address, size, write)
        except VMError:
            return 0
        return self.export(region.data) + offset


@_HELPER_CB
def _helper_callback(state: int, helper_id: int, *args: int) -> int:
    run = _RUNS[state]
    set_mask = run.state[t.S_WRITE]
    values = [value if set_mask & (1 << (n + 1)) else None for n, value in enumerate(args)]
    try:
        if run.helpers is None:
            from pybpf.vm.helpers import HELPERS

            run.helpers = HELPERS
        if run.batch:
            run.next_packet()
        fn = run.helpers.get(helper_id)
        if fn is None:
            raise VMError(f"callx r{run.state[t.S_SIZE] - 1}: {helper_id} is not a helper this engine implements")
        lookups = run.lookups
        if lookups is None:
            value = fn(run, *values) & _MASK64
        else:
            lookups.drain()                 # (native hash maps' changes, before Python sees the maps)
            value = (lookups.lookup(*values[:2]) if helper_id == MAP_LOOKUP_ELEM else fn(run, *values)) & _MASK64
            lookups.install(run.state)      # (a helper that removed elements empties their caches)
        if run.engine:
            run.sync_regions()
        return value
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller of run()
        run.error = exc
        run.state[t.S_STATUS] = t.F_HELPER
        return 0


@_SLOW_CB
def _translate_callback(state: int, address: int, size: int, depth: int) -> int:
    try:
        return _RUNS[state].host_address(address, size & 0xFFFF_FFFF, bool(size & t.WRITE_FLAG), depth)
    except BaseException:  # noqa: BLE001 - nothing may unwind through native frames: a fault
        return 0


#: the functions compiled code exports, and their C types
_ENTRY = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
_BATCH = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64,
                          ctypes.c_void_p)
_PACKETS = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *([ctypes.c_void_p] * 2), ctypes.c_uint64,
                            *([ctypes.c_void_p] * 3), *([ctypes.c_uint64] * 5))
_SYMBOLS = (t.ENTRY_SYMBOL, t.BATCH_SYMBOL)
_ENGINE_SYMBOLS = (*_SYMBOLS, t.PACKETS_SYMBOL)
_HELPER_ADDRESS = ctypes.cast(_helper_callback, ctypes.c_void_p).value or 0
_TRANSLATE_ADDRESS = ctypes.cast(_translate_callback, ctypes.c_void_p).value or 0


@once
def _generator_digest() -> bytes:
    """The sources that shape a program's machine code (part of its disk-cache key)."""
    jit = os.path.dirname(__file__)
    vm = os.path.dirname(jit)
    isa = os.path.join(os.path.dirname(vm), "isa")
    return files_digest([os.path.join(folder, name) for folder, name in (
        (jit, "abi.py"), (jit, "translate.py"), (jit, "runtime.py"), (jit, "native.py"), (jit, "lookups.py"),
        (jit, "mapcalls.py"), (vm, "analysis.py"), (vm, "ethernet.py"), (vm, "memory.py"), (vm, "program.py"), (isa, "opcodes.py"))])


def _object_code(program: CheckedProgram, opt: int, engine: bool = False,
                 trusted: Mapping[int, frozenset[str]] | None = None) -> bytes:
    """Translate ``program`` and compile it to an object (imports llvmlite).

    The cyclic collector is paused meanwhile: llvmlite's IR is some twenty Python objects
    per eBPF instruction, all alive until the module is printed, and each of the
    collector's passes over them took longer as the module grew (at 100,000 instructions
    it doubled the time of building and printing the IR). They become garbage together
    afterwards, for the collector's next pass."""
    from pybpf.vm.jit.translate import Translator

    collecting = gc.isenabled()
    with native.LLVM_LOCK:
        gc.disable()
        try:
            module = Translator(program, engine, trusted).translate()
            text = str(module)
        finally:
            if collecting:
                gc.enable()
        del module
        return native.object_code(text, opt)


def _uint64_address(array: Any, count: int, what: str) -> int:
    """The address of an array of ``count`` or more unsigned 64-bit integers, without a
    copy: a ctypes array of ``c_uint64`` or a writable buffer of 8-byte items
    (``array.array('Q')``, a NumPy ``uint64`` array)."""
    if isinstance(array, ctypes.Array):
        if ctypes.sizeof(array._type_) != 8 or len(array) < count:
            raise ValueError(f"{what}: need {count} 64-bit integers, got {len(array)} of {array._type_.__name__}")
        return ctypes.addressof(array)
    view = memoryview(array)
    if view.itemsize != 8 or not view.c_contiguous or view.nbytes < 8 * count:
        raise ValueError(f"{what}: need a contiguous buffer of {count} 8-byte integers")
    if view.readonly:
        raise ValueError(f"{what}: the buffer is read-only (ctypes cannot take its address)")
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


class CompiledProgram:
    """A program compiled to native code (share it: runs are independent).

    ``CompiledProgram(program)`` compiles now, in this process; :func:`compile_program`
    is the usual way in, through the in-memory and disk caches. ``origin`` says where the
    code came from (``"disk cache"``, ``"compiled"`` and saved, or ``"compiled, not
    cached"``), ``compile_seconds`` how long getting it took."""

    def __init__(self, program: CheckedProgram, opt: int | None = None, engine: bool = False,
                 trusted: Mapping[int, frozenset[str]] | None = None):
        start = time.perf_counter()
        level = opt_level(sum(ins.slots for ins in program.instructions)) if opt is None else opt
        code = native.in_process(_object_code(program, level, engine, trusted), _ENGINE_SYMBOLS if engine else _SYMBOLS)
        self._setup(code, program, program.instructions, time.perf_counter() - start, engine)

    @classmethod
    def _from_code(cls, code: native.NativeCode, program: CheckedProgram | None, source: Any,
                   seconds: float, engine: bool) -> CompiledProgram:
        self = cls.__new__(cls)
        self._setup(code, program, source, seconds, engine)
        return self

    def _setup(self, code: native.NativeCode, program: CheckedProgram | None, source: Any, seconds: float,
               engine: bool) -> None:
        self._code, self._checked, self._source = code, program, source
        #: compiled for the vm engine's runs (:class:`EngineRun`), not the conformance convention
        self.engine = engine
        self._packets = _PACKETS(code.address(t.PACKETS_SYMBOL)) if engine else None
        self.origin, self.compile_seconds = code.origin, seconds
        self._entry = _ENTRY(code.address(t.ENTRY_SYMBOL))
        self._batch = _BATCH(code.address(t.BATCH_SYMBOL))

    @property
    def program(self) -> CheckedProgram:
        """The checked program (built on first use for code loaded from the disk cache,
        which was checked when it was compiled: fault messages need its slot table)."""
        if self._checked is None:
            from pybpf.vm.program import CheckedProgram

            self._checked = CheckedProgram(self._source)
        return self._checked

    def _prepare(self, run: _Run, mem: bytearray, max_instructions: int) -> None:
        if run._program is None:
            run._program = lambda: self.program
        run.max_instructions = max_instructions
        run.buffer = (ctypes.c_char * max(len(mem), 1)).from_buffer(mem) if mem else ctypes.create_string_buffer(1)
        state = run.state
        state[t.S_BUDGET] = max_instructions
        state[t.S_IN_BASE] = INPUT_BASE
        state[t.S_IN_HOST] = ctypes.addressof(run.buffer)
        state[t.S_IN_LEN] = len(mem)
        state[t.S_CPU] = run.cpu
        state[t.S_HELPER_FN] = _HELPER_ADDRESS
        state[t.S_TRANSLATE_FN] = _TRANSLATE_ADDRESS

    def run(self, mem: bytes | bytearray = b"", *, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS, cpu: int = 0,
            helpers: dict[int, Callable[..., int]] | None = None, program: CheckedProgram | None = None) -> ProgramRun:
        """Run once with the conformance convention (r1 = input, r2 = its length).
        ``program``: the checked program whose maps the helpers use (by default the one
        this code was compiled from: programs with the same code share compiled code)."""
        from pybpf.vm.interpreter import ProgramRun

        if self.engine:
            raise ValueError("code compiled for the vm engine runs through EngineRun, not run()")
        run = _Run(helpers, cpu, (lambda: program) if program is not None else lambda: self.program)
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
        return ProgramRun(retval, tuple(run.output), max_instructions - _signed(run.state[t.S_BUDGET]), elapsed)

    def run_batch(self, hosts: Any, lengths: Any, results: Any, count: int | None = None, *,
                  max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> None:
        """r0 for ``count`` inputs that already lie in memory, in one native loop, into
        ``results[:count]``: input ``i`` is ``lengths[i]`` bytes at host address
        ``hosts[i]`` (r1 points at it, r2 holds its length, as in :meth:`run`).

        Nothing is copied — not the inputs, not the arrays (ctypes arrays of
        ``c_uint64``, or writable buffers of 8-byte integers: ``array('Q')``, NumPy
        ``uint64``) — which is what makes a million packets of a mapped pcap file take
        milliseconds (:mod:`pybpf.pcapfilter.matcher`). ``count`` defaults to ``len(hosts)``.
        The budget is per input. A load past the end of an input (the legacy packet
        loads) gives r0 = 0, as in the kernel; any other fault raises the
        :class:`VMError` :meth:`run` would raise for that input, after ``results`` has
        been filled for the inputs before it. The addresses must stay valid for the
        call: the code reads them unchecked, as the kernel's filters read an skb."""
        count = len(hosts) if count is None else count
        if count < 0:
            raise ValueError(f"count {count} is negative")
        host_address = _uint64_address(hosts, count, "hosts")
        length_address = _uint64_address(lengths, count, "lengths")
        result_address = _uint64_address(results, count, "results")
        run = _Run(None, 0)
        self._prepare(run, bytearray(), max_instructions)
        address = ctypes.addressof(run.state)
        _RUNS[address] = run
        try:
            done = self._batch(address, host_address, length_address, count, result_address)
        finally:
            del _RUNS[address]
        if done < count:        # the run raises the interpreter's message for input ``done`` (its state)
            self._outcome(run, 0, max_instructions)

    @property
    def batch_function(self) -> int:
        """The address of the native batch entry, ``bpf_batch(state, hosts, lengths, n,
        results) -> runs completed`` (what :meth:`run_batch` calls), for native loops
        that call the program themselves with a state from :meth:`open_batch_state`."""
        return ctypes.cast(self._batch, ctypes.c_void_p).value or 0

    def open_batch_state(self, *, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> BatchState:
        """A state array for native calls of :attr:`batch_function` (one thread's at a
        time); close it after the calls."""
        run = _Run(None, 0)
        self._prepare(run, bytearray(), max_instructions)
        return BatchState(run)

    def run_many(self, inputs: Sequence[bytes], *, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> list[int]:
        """r0 for every input, computed in one native loop (the budget is per input);
        each input is copied into a buffer of its own first (see :meth:`run_batch` for
        inputs that are already in memory)."""
        buffers = [bytearray(data) for data in inputs]
        arrays = [(ctypes.c_char * max(len(b), 1)).from_buffer(b) if b else ctypes.create_string_buffer(1)
                  for b in buffers]
        hosts = (ctypes.c_uint64 * len(inputs))(*[ctypes.addressof(a) for a in arrays])
        lengths = (ctypes.c_uint64 * len(inputs))(*[len(b) for b in buffers])
        results = (ctypes.c_uint64 * len(inputs))()
        self.run_batch(hosts, lengths, results, max_instructions=max_instructions)
        return list(results)

    def _outcome(self, run: _Run, r0: int, max_instructions: int) -> int:
        state = run.state
        status, slot = state[t.S_STATUS], state[t.S_SLOT]
        if status == 0:
            if not state[t.S_R0_SET]:
                raise VMError("r0 is not initialised when the program exits", slot)
            return r0
        if status == t.F_PACKET:
            return 0
        if status == t.F_BUDGET:  # the instruction the interpreter would have stopped at
            index = self.program.index_of_slot[slot] + state[t.S_ADDR]
            raise VMError(f"the program ran {max_instructions} instructions without finishing "
                          "(raise max_instructions if it is meant to run longer)", self.program.slots[index])
        if status == t.F_UNINIT:
            raise VMError(self._uninitialised(slot, state[t.S_WRITE]), slot)
        if status == t.F_DEPTH:
            raise VMError("bpf-to-bpf calls nested more than 8 frames deep", slot)
        if status == t.F_HELPER:
            error = run.error
            if isinstance(error, VMError):
                raise VMError(error.reason, slot if error.index is None else error.index) from None
            if isinstance(error, TypeError):
                raise VMError(self._uninitialised(slot, state[t.S_WRITE]), slot) from None
            assert error is not None
            raise error
        try:
            run.memory_at(state[t.S_DEPTH]).region(state[t.S_ADDR], state[t.S_SIZE], bool(state[t.S_WRITE]))
        except VMError as exc:
            raise VMError(exc.reason, slot) from None
        raise VMError(f"invalid access of {state[t.S_SIZE]} bytes at 0x{state[t.S_ADDR]:x}", slot)


    def _uninitialised(self, slot: int, set_mask: int) -> str:
        """The interpreter's message for the instruction at ``slot`` reading registers
        that are not set in ``set_mask`` (a helper call reads r1-r5)."""
        from pybpf.isa import opcodes as o
        from pybpf.vm.analysis import reads

        ins = self.program.instructions[self.program.index_of_slot[slot]]
        called = ins.opcode == o.JMP | o.CALL and o.source(ins.opcode) == o.K
        registers = (1, 2, 3, 4, 5) if called else reads(ins)
        named = sorted({f"r{n}" for n in registers if not set_mask >> n & 1})
        which = " or ".join(named) if named else "a register"
        return f"reads {which}, which has not been written (uninitialised register)"


class BatchState:
    """The state of native batch calls a caller makes itself: ``address`` goes to
    :attr:`CompiledProgram.batch_function` as its first argument; :meth:`close` ends the
    registration that lets helper callbacks find the run."""

    def __init__(self, run: _Run):
        self._run = run
        self.address = ctypes.addressof(run.state)
        _RUNS[self.address] = run

    def close(self) -> None:
        _RUNS.pop(self.address, None)

    def __enter__(self) -> BatchState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EngineRun:
    """One run of the vm engine on compiled code: the engine's memory (context, packet,
    the main stack it zeroed), which compiled code reaches natively through the state's
    tables, and ``vm``, what helpers see — the run's attributes (``xdp_frame``,
    ``tail_calls_left``, mapped values, reserved records) live in ``vm.__dict__`` as on
    the interpreter's Machine, and last across the programs of a tail-call chain.

    ``input_base``: the base of the region the packet fast path covers (the packet, or
    an XDP frame), or None. :meth:`close` after the run, before the buffers resize."""

    def __init__(self, memory: Memory, stack: bytearray, input_base: int | None, cpu: int):
        self.vm = run = _Run(None, cpu)
        run._memory, run.engine = memory, True
        state = run.state
        state[t.S_HELPER_FN], state[t.S_TRANSLATE_FN], state[t.S_CPU] = _HELPER_ADDRESS, _TRANSLATE_ADDRESS, cpu
        state[t.S_STACK_HOST] = run.export(stack)
        packet = next((r for r in memory.regions if r.base == input_base), None)
        if packet is not None and len(packet.data):
            state[t.S_IN_BASE], state[t.S_IN_HOST], state[t.S_IN_LEN] = packet.base, run.export(packet.data), \
                len(packet.data)
        else:
            state[t.S_IN_BASE], state[t.S_IN_LEN] = input_base or INPUT_BASE, 0
        self._consts: Any = None

    def call(self, compiled: CompiledProgram, program: CheckedProgram, r1: int,
             max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> int:
        """Run ``compiled`` (``program``'s engine code) with r1 = ``r1``; r0, or the
        interpreter's VMError (or a helper's exception: a tail call's)."""
        from pybpf.vm.program import map_value_address, map_value_references

        assert compiled.engine, "code compiled with compile_program(..., engine=True)"
        run, state = self.vm, self.vm.state
        run._program = lambda: program
        run.max_instructions = max_instructions
        memory = run._memory
        # the program's global-data references are mapped as the interpreter maps them (in order)
        values = [map_value_address(program, i, memory, run.cpu) for i in map_value_references(program)]
        self._consts = (ctypes.c_uint64 * max(len(values), 1))(*values)
        state[t.S_CONSTS] = ctypes.addressof(self._consts)
        state[t.S_BUDGET], state[t.S_STATUS], state[t.S_DEPTH] = max_instructions, 0, 0
        run.sync_regions()
        address = ctypes.addressof(state)
        _RUNS[address] = run
        try:
            r0 = compiled._entry(address, r1, 0)
        finally:
            del _RUNS[address]
        return compiled._outcome(run, r0, max_instructions)

    def packets(self, compiled: CompiledProgram, program: CheckedProgram, hosts: Any, lengths: Any, count: int,
                results: Any, heads: Any, tails: Any, buffer: Any, slot: int, context: bytearray, layout: int,
                flags: int, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> int:
        """Run ``compiled`` over ``count`` packets in one native loop (``bpf_packets``, see
        :func:`pybpf.vm.jit.translate._packets`): packet ``i`` is ``lengths[i]`` bytes at
        ``hosts[i]``, copied into ``buffer`` at ``i * slot``; r0 into ``results``, where the
        packet the program left lies in its slot into ``heads``/``tails`` (:data:`abi.SKIPPED`
        heads: packets no test run takes). The number of packets done: fewer than ``count``
        when packet ``done`` faulted — :meth:`fault` raises its error."""
        from pybpf.vm.program import map_value_address, map_value_references

        run, state = self.vm, self.vm.state
        run._program = lambda: program
        run.max_instructions = max_instructions
        run.batch = True
        memory = run._memory
        assert memory is not None
        if run._fresh is None:      # the first batch: map the global data, and keep the memory as it is
            values = [map_value_address(program, i, memory, run.cpu) for i in map_value_references(program)]
            self._consts = (ctypes.c_uint64 * max(len(values), 1))(*values)
            state[t.S_CONSTS] = ctypes.addressof(self._consts)
            base = t.INPUT_BASE - t.XDP_HEADROOM if layout == t.L_XDP else t.INPUT_BASE
            state[t.S_IN_BASE] = base
            from pybpf.vm.jit.lookups import NativeLookups  # (engine runs only: filters have no maps)

            run.lookups = NativeLookups(run, program.maps)
            memory.map(bytearray(), writable=True, name="packet", base=base)
            run._input = memory.regions[0]
            run._fresh = (list(memory.regions), memory._next_dynamic)
            run._fresh_version = memory.version
        state[t.S_BUDGET] = max_instructions
        assert run.lookups is not None
        run.lookups.install(state)
        run.next_packet()
        run.sync_regions()
        address = ctypes.addressof(state)
        _RUNS[address] = run
        assert compiled._packets is not None, "code compiled with compile_program(..., engine=True)"
        try:
            return int(compiled._packets(address, _uint64_address(hosts, count, "hosts"),
                                         _uint64_address(lengths, count, "lengths"), count,
                                         _uint64_address(results, count, "results"),
                                         _uint64_address(heads, count, "heads"),
                                         _uint64_address(tails, count, "tails"),
                                         ctypes.addressof(ctypes.c_char.from_buffer(buffer)), slot,
                                         run.export(context), layout, flags))
        finally:
            del _RUNS[address]
            run.lookups.drain()             # the maps as userspace reads them

    def fault(self, compiled: CompiledProgram) -> None:
        """Raise the error of the packet a :meth:`packets` call stopped at."""
        compiled._outcome(self.vm, 0, self.vm.max_instructions)

    # an XDP frame in a batch lives in the state: its bounds, its bytes, its pointers
    def frame_bounds(self) -> tuple[int, int]:
        return self.vm.state[t.S_HEAD], self.vm.state[t.S_TAIL]

    def set_frame_bounds(self, head: int, tail: int) -> None:
        self.vm.state[t.S_HEAD], self.vm.state[t.S_TAIL] = head, tail

    def frame_buffer(self) -> Any:
        state = self.vm.state
        return memoryview((ctypes.c_char * state[t.S_IN_LEN]).from_address(state[t.S_IN_HOST])).cast("B")

    def set_pointers(self, pointers: dict[int, int]) -> None:
        """The context's pointer fields (offset → value), as compiled code reads them."""
        state = self.vm.state
        for k, (offset, value) in enumerate(sorted(pointers.items())[:t.MAX_POINTERS]):
            state[t.S_POINTERS + 2 * k], state[t.S_POINTERS + 2 * k + 1] = t.CONTEXT_BASE + offset, value
        state[t.S_NPOINTERS] = min(len(pointers), t.MAX_POINTERS)

    def pointer(self, offset: int) -> int:
        """The context's pointer field at ``offset``, as compiled code reads it."""
        state = self.vm.state
        for k in range(state[t.S_NPOINTERS]):
            if state[t.S_POINTERS + 2 * k] == t.CONTEXT_BASE + offset:
                return int(state[t.S_POINTERS + 2 * k + 1])
        raise KeyError(offset)

    def close(self) -> None:
        self.vm.release()


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


#: the compiled programs of this process, least recently used first (a dict keeps the order
#: keys were set in; collections.OrderedDict would be ~1.5 ms of ``pybpf filter``'s start)
_CACHE: dict[bytes, CompiledProgram] = {}
CACHE_SIZE = 128


def compile_program(program: bytes | Sequence[Instruction] | CheckedProgram, *, engine: bool = False,
                    trusted: Mapping[int, frozenset[str]] | None = None) -> CompiledProgram:
    """The compiled form of ``program``: from the in-memory cache when the same code ran
    in this process, else from the disk cache when it ran before, else compiled (and
    saved). Raises the load-time check's :class:`VMError` for a program it rejects and
    :class:`JitUnsupported` for one the JIT cannot compile (or where llvmlite is missing).
    ``engine``: code for the vm engine's runs (:class:`EngineRun`; see
    :class:`pybpf.vm.jit.translate.Translator`). ``trusted``: the accepting verdict's
    ``accesses`` (:class:`pybpf.verifier.Verdict`) of a program :mod:`pybpf.verifier`
    accepted — code without the checks the verifier made unnecessary (no budget: a
    trusted run's ``instructions`` count is 0).

    A program found on disk is not checked again: it passed the same check when it was
    compiled (the key is its exact bytes and the code generator's sources)."""
    checked = _as_checked(program)
    if checked is not None:
        source: Any = checked.instructions
    elif isinstance(program, (bytes, bytearray)):
        source = bytes(program)
    else:               # (not a CheckedProgram: _as_checked said so)
        from typing import cast  # (typing only here: ~2 ms of every run's start otherwise)

        source = list(cast("Sequence[Instruction]", program))
    if isinstance(source, bytes):
        code_bytes = source
    else:               # (imported here: the instruction classes import dataclasses, ~6 ms)
        from pybpf.isa.encoding import encode

        code_bytes = encode(source)
    profile = (b"engine\0" if engine else b"") + _trust_key(trusted)
    key = sha256(code_bytes + b"\0" + profile).digest()
    cached = _CACHE.pop(key, None)
    if cached is not None:
        _CACHE[key] = cached            # now the most recently used
        return cached

    def build() -> bytes:
        nonlocal checked
        if checked is None:
            from pybpf.vm.program import CheckedProgram

            checked = CheckedProgram(source)
        return _object_code(checked, level, engine, trusted)

    level = opt_level(len(code_bytes) // 8)    # slots: an lddw counts twice, as the kernel counts
    start = time.perf_counter()
    key_text = code_bytes + b"\0opt%d\0" % level + profile + _generator_digest()
    code = native.load("bpf", key_text, build, _ENGINE_SYMBOLS if engine else _SYMBOLS)
    compiled = CompiledProgram._from_code(code, checked, source, time.perf_counter() - start, engine)
    _CACHE[key] = compiled
    if len(_CACHE) > CACHE_SIZE:
        del _CACHE[next(iter(_CACHE))]
    return compiled


def _trust_key(trusted: Mapping[int, frozenset[str]] | None) -> bytes:
    """What the verifier's facts add to a cache key (nothing for unverified code)."""
    if trusted is None:
        return b""
    text = ";".join(f"{i}:{','.join(sorted(kinds))}" for i, kinds in sorted(trusted.items()))
    return b"trusted\0" + sha256(text.encode()).digest()


def _as_checked(program: Any) -> CheckedProgram | None:
    """``program`` if it is a checked :class:`CheckedProgram` (which can only be so if
    pybpf.vm.program was imported: no import to find out)."""
    module = sys.modules.get("pybpf.vm.program")
    return program if module is not None and isinstance(program, module.CheckedProgram) else None
