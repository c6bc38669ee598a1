"""A pcap-filter expression applied to many packets: one compiled program per link type,
run in native code through the vm JIT's batch entry point, the classic interpreter where
the JIT cannot be used.

:class:`Matcher` is what ``pybpf filter`` filters files with. The expression is compiled
(:func:`pybpf.filter.compile_filter`) for a link type the first time a packet of that type
arrives — a pcapng file may describe interfaces of several — then translated to eBPF
(:func:`pybpf.cbpf.to_ebpf`) and compiled by the vm JIT. The JIT's batch entry point
(:meth:`~pybpf.vm.jit.CompiledProgram.run_batch`) runs the program over arrays of packet
addresses and lengths in one native loop, without copying a packet, which is what
makes a large file take about as long as tcpdump takes, not the much longer a Python
loop over the interpreter would (docs/filter.md).

One difference is bridged here: the translation gives the eBPF program the *captured*
length as the packet length, while classic BPF's ``len`` is the length on the wire. For
programs that read ``len`` (``greater``, ``less``, ``len > 100``...), the packets whose
two lengths differ are run again through the classic interpreter with the wire length,
so the results are libpcap's for every packet.
"""

from __future__ import annotations

import ctypes

from pybpf.cbpf import opcodes

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pybpf.capture.packet import Packet
    from pybpf.cbpf.instruction import Instruction
    from pybpf.pcapfilter.batch import RecordBatch

_U64 = ctypes.c_uint64


def reads_wire_length(program: Sequence[Instruction]) -> bool:
    """Whether a classic program loads ``len`` (into A or X) anywhere."""
    return any(opcodes.cls(i.code) in (opcodes.LD, opcodes.LDX) and opcodes.mode(i.code) == opcodes.LEN
               for i in program)


def _jit_compile(program: Sequence[Instruction], cache: bool = False) -> Any | None:
    """The vm JIT's compiled form of the program's eBPF translation, or ``None`` where
    that is not possible (llvmlite missing, Linux ancillary loads, a JIT refusal).

    The JIT keeps compiled programs on disk, so a filter used before — by an earlier
    ``pybpf filter`` run — is loaded rather than compiled (see docs/jit.md); with
    ``cache``, the translation comes from :func:`pybpf.pcapfilter.programs.translated` too, so
    that the translator is not imported either."""
    from pybpf.cbpf.instruction import CbpfError
    from pybpf.vm.jit import JitUnsupported, compile_program

    try:
        if cache:
            from pybpf.pcapfilter.programs import translated

            return compile_program(translated(list(program)))
        from pybpf.cbpf.translate import to_ebpf

        return compile_program(to_ebpf(program))
    except (CbpfError, JitUnsupported, RuntimeError):
        return None


class _LinkProgram:
    """The expression compiled for one link type, with its JIT form if there is one."""

    def __init__(self, program: list[Instruction], jit: bool, cache: bool = False):
        self.program = program
        self.compiled = _jit_compile(program, cache) if jit else None
        self.reads_len = reads_wire_length(program)

    def interpret(self, data: bytes, wirelen: int) -> int:
        from pybpf.cbpf.interpreter import run

        return run(self.program, data, wirelen)


class NativeFilter:
    """A link type's JIT-compiled filter as native loops call it themselves: ``function``
    is the address of its batch entry point (``bpf_batch(state, hosts, lengths, n,
    results) -> runs completed``, what :meth:`CompiledProgram.run_batch` calls), and
    :meth:`open` gives a state array for one call (one thread's; :meth:`close` it after).
    :mod:`pybpf.pcapfilter.batch` walks, filters and gathers a whole piece of a file in one
    native call with it, the GIL released throughout. A batch the filter does not finish
    (a fault) is left to :meth:`Matcher.match_batch`, which raises its error."""

    def __init__(self, compiled: Any):
        self._compiled = compiled
        self.function: int = compiled.batch_function

    def open(self) -> tuple[int, Any]:
        """(the address of a state array ready for a call, a token for :meth:`close`)."""
        state = self._compiled.open_batch_state()
        return state.address, state

    def close(self, token: Any) -> None:
        token.close()


class Matcher:
    """Decides which packets an expression accepts, link type by link type.

    An empty expression accepts everything without compiling anything (so files of link
    types the compiler does not know can still be read). ``snaplen`` is what accepted
    packets' programs return (as in ``tcpdump -d``); ``jit=False`` forces the interpreter.
    Compilation errors (:class:`~pybpf.filter.FilterError`) are raised on the first
    packet of the link type concerned. With ``cache``, programs compiled before (by this
    or an earlier process) come from the disk cache of :mod:`pybpf.pcapfilter.programs`, without
    importing the compiler.

    :meth:`match_batch` may be called from several threads at once (each with its own
    batch and results) once :meth:`program` has compiled the link type's program.
    """

    def __init__(self, expression: str, *, optimize: bool = True, netmask: int = 0, snaplen: int = 262144,
                 jit: bool = True, cache: bool = False):
        self.expression, self.optimize, self.netmask = expression, optimize, netmask
        self.snaplen, self.jit, self.cache = snaplen, jit, cache
        self.match_all = not expression.strip()
        self._programs: dict[int, _LinkProgram] = {}

    def program(self, linktype: int) -> list[Instruction]:
        """The classic program for packets of ``linktype`` (compiled on first use)."""
        return self._for(linktype).program

    def uses_jit(self, linktype: int) -> bool:
        """Whether packets of ``linktype`` are filtered by JIT-compiled code."""
        return self._for(linktype).compiled is not None

    def _for(self, linktype: int) -> _LinkProgram:
        entry = self._programs.get(linktype)
        if entry is None:
            arguments = (self.expression, linktype, self.snaplen, self.optimize, self.netmask)
            if self.cache:
                from pybpf.pcapfilter.programs import compile_cached

                program = compile_cached(*arguments)
            else:
                from pybpf.filter import compile_filter

                program = compile_filter(*arguments)
            entry = self._programs[linktype] = _LinkProgram(program, self.jit, self.cache)
        return entry

    def native_filter(self, linktype: int) -> NativeFilter | None:
        """The filter of ``linktype`` for native loops (:class:`NativeFilter`), or ``None``
        where :meth:`match_batch` must filter: an empty expression, the interpreter, or a
        program that reads ``len`` (whose truncated packets the interpreter runs again)."""
        if self.match_all:
            return None
        entry = self._for(linktype)
        if entry.compiled is None or entry.reads_len:
            return None
        return NativeFilter(entry.compiled)

    def match_batch(self, batch: RecordBatch, results: ctypes.Array) -> None:
        """Fill ``results[:batch.count]`` with the filter's return values for the batch's
        records (non-zero: accepted)."""
        count = batch.count
        if self.match_all:
            ctypes.memset(results, 1, count * ctypes.sizeof(_U64))
            return
        entry = self._for(batch.linktype)
        if entry.compiled is None:
            for i in range(count):
                results[i] = entry.interpret(batch.packet(i).data, batch.wirelens[i])
            return
        entry.compiled.run_batch(batch.hosts, batch.caplens, results, count)
        if entry.reads_len:
            for i in batch.truncated():
                results[i] = entry.interpret(batch.packet(i).data, batch.wirelens[i])

    def match(self, packets: Sequence[Packet]) -> list[bool]:
        """Whether each packet is accepted (packets decoded one at a time, e.g. from a
        pcapng file): packets of each link type go through the JIT together."""
        if self.match_all:
            return [True] * len(packets)
        accepted = [False] * len(packets)
        by_link: dict[int, list[int]] = {}
        for index, packet in enumerate(packets):
            by_link.setdefault(packet.linktype, []).append(index)
        for linktype, indices in by_link.items():
            entry = self._for(linktype)
            if entry.compiled is not None:
                values = entry.compiled.run_many([packets[i].data for i in indices])
            else:
                values = [0] * len(indices)
            for value, i in zip(values, indices):
                packet = packets[i]
                if entry.compiled is None or (entry.reads_len and len(packet.data) != packet.wirelen):
                    value = entry.interpret(packet.data, packet.wirelen)
                accepted[i] = value != 0
        return accepted
