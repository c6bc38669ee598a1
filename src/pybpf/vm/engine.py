"""The vm engine's entry points for :func:`pybpf.engine.load`, and its programs.

``load_collection`` creates the maps (:mod:`pybpf.vm.maps`), relocates each program's
map references to map ids, and checks each program as the kernel's verifier would for
the vm can run (valid code, helpers the vm implements) and then with
:mod:`pybpf.verifier`, the kernel's safety rules. ``test_run`` builds the context the kernel's BPF_PROG_TEST_RUN
builds for the program type from the packet: ``__sk_buff`` for socket filters, tc and
cgroup skb programs, ``xdp_md`` for XDP.

Runs go through the JIT (:mod:`pybpf.vm.jit`, code compiled for the engine's memory
model: :class:`pybpf.vm.jit.EngineRun`) where llvmlite is available and the JIT
translates the program, else through the interpreter; both give the same answers.
``load(..., engine="vm", jit=False)`` or ``PYBPF_VM_JIT=off`` in the environment forces
the interpreter.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections.abc import Iterator, Sequence

from pybpf.engine import BPFError, Collection, Program, RunResult, VerifierError
from pybpf.engine.program import skb_test_run_refusal
from pybpf.isa import opcodes as o
from pybpf.object import AttachType, CollectionSpec, ProgramSpec, ProgramType
from pybpf.verifier import map_info, verify
from pybpf.vm import locking
from pybpf.vm.constants import MAX_TAIL_CALLS
from pybpf.vm.errors import TailCall, VMError
from pybpf.vm.ethernet import LOOPBACK_IFINDEX, eth_type_trans
from pybpf.vm.jit.abi import XDP_FRAG_SIZE
from pybpf.vm.memory import INPUT_BASE, STACK_TOP, Memory
from pybpf.vm.objects import OBJECTS, new_id
from pybpf.vm.program import CheckedProgram as Checked
from pybpf.vm.timers import run_timers

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from pybpf.vm.maps import VmMap

#: where a run's context structure lives
CONTEXT_BASE = 0x0000_0000_F000_0000
_SKB_TYPES = {ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.CGROUP_SKB}
_DIRECT_PACKET = {ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.CGROUP_SKB}
#: the kernel's test run shows tc programs the Ethernet header; socket filters and cgroup
#: programs start at the network header (it was pulled off as on receive)
_LAYER2 = {ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.XDP}
ETH_HLEN = 14
SK_BUFF_SIZE = 192
XDP_MD_SIZE = 24
#: where a run's (main) stack lives
STACK_BASE = STACK_TOP - 0x10000
#: the environment variable that, set to ``off`` (or 0, no, false), makes the vm engine interpret
JIT_ENV = "PYBPF_VM_JIT"


def jit_wanted(option: bool | None = None) -> bool:
    """Whether loaded programs run on the JIT: ``option`` (``load(..., jit=...)``) when
    given, else not when :data:`JIT_ENV` says ``off``."""
    if option is not None:
        return option
    return os.environ.get(JIT_ENV, "").strip().lower() not in ("0", "off", "no", "false")


def available() -> str | None:
    """The vm runs anywhere Python does."""
    return None


class VmProgram(Program):
    """A program loaded into the vm engine."""

    engine = "vm"

    def __init__(self, spec: ProgramSpec, checked: Checked, jit: bool = True,
                 accesses: dict[int, frozenset[str]] | None = None):
        super().__init__(spec)
        self.checked = checked
        self._id = new_id(self)
        #: what the verifier proved of each access (its JIT code drops the checks it made
        #: unnecessary); None for a program it did not verify
        self.accesses = accesses
        #: whether runs may use the JIT; its code once compiled (None: the interpreter)
        self.jit = jit
        self._compiled: Any = None

    def compiled(self) -> Any:
        """The program's JIT code for engine runs, compiled on first use, or None where
        the interpreter runs it (the JIT off, llvmlite missing, a shape it refuses)."""
        if self.jit and self._compiled is None:
            try:
                from pybpf.vm.jit.abi import JitUnsupported
                from pybpf.vm.jit.runtime import compile_program
            except ImportError:
                self.jit = False
                return None
            try:
                self._compiled = compile_program(self.checked, engine=True, trusted=self.accesses)
            except (JitUnsupported, RuntimeError) as exc:   # (RuntimeError: LLVM's own failures)
                import logging

                logging.getLogger("pybpf.vm").debug("program %r runs on the interpreter: %s", self.spec.name, exc)
                self.jit = False
        return self._compiled

    @property
    def id(self) -> int:
        return self._id

    def _close(self) -> None:
        OBJECTS.pop(self._id, None)

    def _test_run(self, data: bytes, ctx: bytes | None, repeat: int, data_out_size: int,
                  ctx_out_size: int, flags: int, cpu: int) -> RunResult:
        kind = self.spec.type
        if (kind in _SKB_TYPES or kind == ProgramType.XDP) and len(data) < ETH_HLEN:
            # the kernel's test run refuses packets without a whole Ethernet header
            raise BPFError("BPF_PROG_TEST_RUN", errno.EINVAL,
                           f"a {kind} test run needs at least an Ethernet header ({ETH_HLEN} bytes) of data, "
                           f"got {len(data)}", f"program {self.spec.name!r}")
        if kind in _SKB_TYPES:
            _check_skb_packet(data, self.spec.name)
        start = time.perf_counter_ns()
        for _ in range(repeat):
            retval, packet, context = self._run_once(data, ctx, cpu)
        duration = (time.perf_counter_ns() - start) // repeat
        run_timers()     # the vm's stand-in for the kernel's timer softirq (pybpf.vm.timers)
        if data_out_size and len(packet) > data_out_size:   # as bpf_test_finish: the run happened
            raise BPFError("BPF_PROG_TEST_RUN", errno.ENOSPC,
                           f"the program's output ({len(packet)} bytes) is larger than data_out_size "
                           f"({data_out_size})", f"program {self.spec.name!r}")
        return RunResult(retval, bytes(packet), bytes(context[:ctx_out_size]), duration)

    def run_packets(self, packets: Sequence[bytes], cpu: int = 0) -> Iterator[tuple[int, bytes] | None] | None:
        """Each packet's test run — (r0, the packet as the program left it), or None for a
        packet the test run refuses (:meth:`test_run` says why) — from one native loop
        over chunks of packets (the JIT's ``bpf_packets``), or None where the JIT cannot
        take the program (not compiled, not a packet program, a tail call). Raises, after
        the packets before it, a packet's error as :meth:`test_run` would."""
        layout = _PACKET_LAYOUTS.get(self.type)
        compiled = self.compiled() if layout is not None else None
        code: list[Any] = self.checked.instructions
        if layout is None or compiled is None or any(
                ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_HELPER and ins.imm in _PER_RUN for ins in code):
            return None
        return self._packet_chunks(compiled, layout, packets, cpu)

    def _packet_chunks(self, compiled: Any, layout: int, packets: Sequence[bytes],
                       cpu: int) -> Iterator[tuple[int, bytes] | None]:
        import ctypes

        batches = PacketBatches(self, compiled, layout, cpu)
        try:
            for first in range(0, len(packets), _CHUNK):
                chunk = [bytes(p) for p in packets[first:first + _CHUNK]]
                count = len(chunk)
                hosts = (ctypes.c_uint64 * count)(*[ctypes.cast(ctypes.c_char_p(p), ctypes.c_void_p).value or 0
                                                    for p in chunk])
                lengths = (ctypes.c_uint64 * count)(*map(len, chunk))
                done = batches.run(hosts, lengths, count, max(map(len, chunk), default=0))
                for i in range(done):
                    yield batches.outcome(i)
                batches.release()
                if done < count:
                    batches.fault()
        finally:
            batches.close()

    def packet_batches(self, cpu: int = 0, keep_packets: bool = True) -> PacketBatches | None:
        """Native runs over arrays of packets already in memory (:class:`PacketBatches`),
        or None where :meth:`run_packets` would be None. ``keep_packets=False``: only r0
        and the packets' lengths out are wanted (every packet runs in the same frame)."""
        layout = _PACKET_LAYOUTS.get(self.type)
        if layout is None or self.run_packets([]) is None:
            return None
        return PacketBatches(self, self.compiled(), layout, cpu, keep_packets)

    def _run_once(self, data: bytes, ctx: bytes | None, cpu: int) -> tuple[int, bytearray, bytearray]:
        """One run, through any chain of tail calls: as in the kernel, the programs of a
        chain share the context, the packet and the stack frame (skb->cb[], skb->mark,
        packet writes and xdp_adjust_head carry over), and after 33 tail calls a further
        bpf_tail_call fails and returns to its caller."""
        packet = bytearray(data)
        memory = Memory()
        context, frame = _context(self.type, packet, ctx, memory)
        stack = bytearray(o.STACK_SIZE)
        memory.map(stack, writable=True, name="stack", base=STACK_BASE, aligned=True)
        runner = _Runner(memory, stack, frame, cpu)
        if self.type in _SKB_TYPES and self.type not in _LAYER2:
            # the link-layer header the program does not see, for bpf_skb_load_bytes_relative
            runner.first["link_header"] = bytes(packet[:ETH_HLEN])
        program: VmProgram = self
        tail_calls = 0
        try:
            while True:
                running = program
                try:
                    retval = runner.run(running, MAX_TAIL_CALLS - tail_calls)
                    break
                except TailCall as call:
                    tail_calls += 1
                    program = call.program
                except VMError as exc:
                    raise _explained(exc, running.spec) from None
                finally:
                    if running.checked.calls_helpers:   # (only a helper reserves records)
                        from pybpf.vm.helpers.events import release_reservations

                        release_reservations(runner.vm)
                    locking.release_held(runner.vm)
        finally:
            runner.close()
        width = 0xFFFF_FFFF if program.type != ProgramType.SYSCALL else (1 << 64) - 1
        if frame is not None:  # XDP may have moved the packet's start and end
            packet = bytearray(frame.buffer[frame.head:frame.tail])
        elif runner.vm is not None and "skb_packet" in runner.vm.__dict__:    # bpf_skb_change_tail's
            packet = runner.vm.__dict__["skb_packet"]
        if program.type in _SKB_TYPES and program.type not in _LAYER2:
            packet[:ETH_HLEN] = bytes(ETH_HLEN)   # the kernel hands back a zeroed link-layer header
        return retval & width, packet, context


#: helpers that need one run per packet (bpf_tail_call: the chain; bpf_skb_load_bytes_relative:
#: the link-layer header beside the packet), which the native packet loop does not give
_PER_RUN = frozenset({12, 68})

#: what helpers keep in a run's ``__dict__`` (the XDP frame, a socket filter's link-layer
#: header, the packet bpf_skb_change_tail made, tail calls left, mapped map values, reserved ring-buffer records, trace output
#: counts): a tail-call chain shares it
_RUN_STATE = ("xdp_frame", "link_header", "skb_packet", "tail_calls_left", "mapped_values", "reserved",
              "output_bytes", "output_dropped")


class _Runner:
    """Runs the programs of one tail-call chain over one memory (context, packet, stack),
    each on its JIT code or, where it has none, on the interpreter. ``vm`` is what
    helpers see (a :class:`Machine` or the JIT's run), which carries the chain's run
    state (:data:`_RUN_STATE`) from program to program."""

    def __init__(self, memory: Memory, stack: bytearray, frame: XdpFrame | None, cpu: int):
        self.memory, self.stack, self.cpu = memory, stack, cpu
        self.input_base = INPUT_BASE - XDP_HEADROOM if frame is not None else INPUT_BASE
        self.engine_run: Any = None
        self.vm: Any = None
        #: the run state the chain starts with
        self.first: dict[str, Any] = {"xdp_frame": frame} if frame is not None else {}

    def run(self, program: VmProgram, tail_calls_left: int) -> int:
        compiled = program.compiled()
        if compiled is not None:
            if self.engine_run is None:
                from pybpf.vm.jit.runtime import EngineRun

                self.engine_run = EngineRun(self.memory, self.stack, self.input_base, self.cpu)
            self._switch(self.engine_run.vm, tail_calls_left)
            return int(self.engine_run.call(compiled, program.checked, CONTEXT_BASE))
        from pybpf.vm.interpreter import Machine  # (JIT code runs without the interpreter)

        machine = Machine(program.checked, memory=self.memory, cpu=self.cpu)
        self._switch(machine, tail_calls_left)
        machine.regs[1], machine.regs[10] = CONTEXT_BASE, STACK_BASE + o.STACK_SIZE
        return int(machine.run()[0])

    def _switch(self, vm: Any, tail_calls_left: int) -> None:
        """Make ``vm`` the one helpers see, with the chain's run state."""
        if vm is not self.vm:
            source = self.vm.__dict__ if self.vm is not None else self.first
            for key in _RUN_STATE:
                if key in source:
                    vm.__dict__[key] = source[key]
                else:
                    vm.__dict__.pop(key, None)
            self.vm = vm
        vm.__dict__["tail_calls_left"] = tail_calls_left

    def close(self) -> None:
        if self.engine_run is not None:
            self.engine_run.close()


def _check_skb_packet(data: bytes, name: str) -> None:
    """The kernel's skb test run refuses a packet longer than a page and an IPv4 or IPv6
    packet whose network header is cut short; so does the vm, with the same reason."""
    reason = skb_test_run_refusal(data)
    if reason:
        raise BPFError("BPF_PROG_TEST_RUN", errno.EINVAL, reason, f"program {name!r}")


def _explained(exc: VMError, spec: ProgramSpec) -> VMError:
    """A run-time error with the C line of its instruction (and a failed CO-RE
    relocation, for a poisoned one) when the program's debug info knows them."""
    extra = spec.explain(exc.index) if exc.index is not None else ""
    if not extra:
        return exc
    return VMError(exc.reason + "".join(f"\n  {line}" for line in extra.splitlines()), exc.index)


XDP_HEADROOM = 256
#: how far bpf_xdp_adjust_tail may grow a test-run packet (the kernel's frame minus its
#: headroom and shared info, on 4 KiB pages), and the most of a longer packet the frame
#: holds: the kernel's test run puts the rest in page-sized fragments
XDP_TAILROOM = 4096 - XDP_HEADROOM - 320
#: packets per native call of :meth:`VmProgram.run_packets`
_CHUNK = 4096
#: ``bpf_packets``' layouts (:mod:`pybpf.vm.jit.abi`: L_XDP, L_SKB_L2, L_SKB_L3) and its
#: mark of a skipped packet
_L_XDP, _L_SKB_L2, _L_SKB_L3 = 0, 1, 2
_SKIPPED = (1 << 64) - 1
_PACKET_LAYOUTS = {ProgramType.XDP: _L_XDP, ProgramType.SCHED_CLS: _L_SKB_L2, ProgramType.SCHED_ACT: _L_SKB_L2,
                   ProgramType.SOCKET_FILTER: _L_SKB_L3, ProgramType.CGROUP_SKB: _L_SKB_L3}


def xdp_frame_room(length: int) -> int:
    """Bytes an XDP frame's buffer holds past its headroom for a ``length``-byte packet:
    the page's room for a packet that fits, else the packet and what its last fragment
    may grow by (:class:`XdpFrame`)."""
    return XDP_TAILROOM if length <= XDP_TAILROOM else length + XDP_FRAG_SIZE


class XdpFrame:
    """An XDP test-run buffer: headroom, the packet, tailroom; ``head``/``tail`` move
    with bpf_xdp_adjust_head/tail and the context's data pointers follow.

    A packet longer than :data:`XDP_TAILROOM` is, as in the kernel's test run, that many
    bytes of linear data (``end``: xdp_md's ``data_end``) and page-sized fragments after
    them, kept here in the same buffer up to ``tail``: direct access reaches the linear
    part only, ``bpf_xdp_load/store_bytes`` and ``get_buff_len`` the whole packet, and
    ``adjust_tail`` shrinks fragments (then the linear part) or grows the last one within
    its page, as the kernel's ``bpf_xdp_frags_shrink/increase_tail``."""

    def __init__(self, packet: bytearray):
        self.buffer = bytearray(XDP_HEADROOM) + packet + bytearray(xdp_frame_room(len(packet)) - len(packet))
        self.head, self.tail = XDP_HEADROOM, XDP_HEADROOM + len(packet)
        self.end = XDP_HEADROOM + min(len(packet), XDP_TAILROOM)
        self.pointers: dict[int, int] = {}

    def publish(self) -> None:
        """Point xdp_md's data, data_end and data_meta at the current packet."""
        base = INPUT_BASE - XDP_HEADROOM
        self.pointers.update({0: base + self.head, 4: base + self.end, 8: base + self.head})

    def adjust_head(self, delta: int) -> int:
        head = self.head + delta
        if head < 0 or self.end - head < ETH_HLEN:
            return -errno.EINVAL
        self.head = head
        self.publish()
        return 0

    def adjust_tail(self, delta: int) -> int:
        fragments = self.tail - self.end
        if fragments:
            return self._adjust_fragments(delta, fragments)
        tail = self.tail + delta
        if tail > XDP_HEADROOM + XDP_TAILROOM or tail - self.head < ETH_HLEN:
            return -errno.EINVAL
        if delta > 0:
            self.buffer[self.tail:tail] = bytes(delta)
        self.tail = self.end = tail
        self.publish()
        return 0

    def _adjust_fragments(self, delta: int, fragments: int) -> int:
        if delta < 0:
            if -delta > self.tail - self.head - ETH_HLEN:
                return -errno.EINVAL
            if -delta < fragments:
                self.tail += delta
            else:                   # every fragment freed: the rest comes off the linear part
                self.end -= -delta - fragments
                self.tail = self.end
        else:
            last = (fragments - 1) % XDP_FRAG_SIZE + 1      # every fragment but the last is a full page
            if delta > XDP_FRAG_SIZE - last:
                return -errno.EINVAL
            self.buffer[self.tail:self.tail + delta] = bytes(delta)
            self.tail += delta
        self.publish()
        return 0


class PacketBatches:
    """A packet program's test runs over arrays of packets, in the JIT's native loop
    (``bpf_packets``), with one run state for all of them: :meth:`run` takes packet
    addresses and lengths (a mapped capture's records: nothing is copied in Python), and
    leaves each packet's r0, and where the packet the program left lies, in arrays
    (:meth:`outcome` gives one packet's, :meth:`lengths_out` all lengths at once)."""

    def __init__(self, program: VmProgram, compiled: Any, layout: int, cpu: int, keep_packets: bool = True):
        from pybpf.vm.jit.runtime import EngineRun

        self.program, self.compiled, self.layout = program, compiled, layout
        #: False: every packet runs in one frame (:meth:`outcome` has no packets to give)
        self.keep_packets = keep_packets
        memory = Memory()
        xdp = layout == _L_XDP
        self.context = _xdp_md(None) if xdp else bytearray(SK_BUFF_SIZE)
        memory.map(self.context, writable=not xdp, name="xdp_md" if xdp else "__sk_buff", base=CONTEXT_BASE)
        stack = bytearray(o.STACK_SIZE)
        memory.map(stack, writable=True, name="stack", base=STACK_BASE, aligned=True)
        self.engine_run = EngineRun(memory, stack, None, cpu)
        if xdp:
            self.engine_run.vm.__dict__["xdp_frame"] = _NativeXdpFrame(self.engine_run)
        self.engine_run.vm.__dict__["tail_calls_left"] = MAX_TAIL_CALLS
        self.flags = 1 if program.type in _DIRECT_PACKET else 0
        self.buffer = bytearray()
        self.slot = 0
        self.results: Any = None
        self.heads: Any = None
        self.tails: Any = None
        self._view: memoryview | None = None

    def run(self, hosts: Any, lengths: Any, count: int, longest: int | None = None) -> int:
        """Run packets ``[0, count)``; how many completed (fewer: :meth:`fault` raises
        the error of the packet that stopped the loop). ``longest``: no packet is longer
        (a bound the caller knows, such as the capture's largest record: the packets'
        frames are sized for it), else the lengths' maximum is taken."""
        import ctypes

        self.release()
        if longest is None:
            longest = max(memoryview(lengths).cast("B").cast("Q")[:count], default=0)
        headroom = XDP_HEADROOM + xdp_frame_room(longest) if self.layout == _L_XDP else max(longest, 1)
        self.slot = -(-headroom // 64) * 64
        frames = count if self.keep_packets else 1
        if len(self.buffer) < self.slot * frames:
            self.buffer = bytearray(self.slot * frames)
        if self.results is None or len(self.results) < count:
            self.results, self.heads, self.tails = ((ctypes.c_uint64 * count)() for _ in range(3))
        done = int(self.engine_run.packets(self.compiled, self.program.checked, hosts, lengths, count, self.results,
                                          self.heads, self.tails, self.buffer,
                                          self.slot if self.keep_packets else 0, self.context,
                                          self.layout, self.flags))
        run_timers()     # as after a test run
        return done

    def outcome(self, i: int) -> tuple[int, bytes] | None:
        """Packet ``i``'s (r0, packet as the program left it), or None: no test run takes it."""
        assert self.keep_packets, "packet_batches(keep_packets=True) for the packets"
        head = self.heads[i]
        if head == _SKIPPED:
            return None
        if self._view is None:
            self._view = memoryview(self.buffer)
        start = i * self.slot
        out = bytes(self._view[start + head:start + self.tails[i]])
        return self.results[i] & 0xFFFF_FFFF, (bytes(ETH_HLEN) + out if self.layout == _L_SKB_L3 else out)

    def fault(self) -> None:
        """Raise the error of the packet :meth:`run` stopped at, as :meth:`test_run` would."""
        locking.release_held(self.engine_run.vm)
        try:
            self.engine_run.fault(self.compiled)
        except VMError as exc:
            raise _explained(exc, self.program.spec) from None

    def release(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None

    def close(self) -> None:
        self.release()
        self.engine_run.close()


class _NativeXdpFrame(XdpFrame):
    """The XDP frame of a packet in a native batch (:meth:`VmProgram.run_packets`): its
    bounds, bytes and pointers live in the JIT run's state, where the native loop sets
    them for each packet; bpf_xdp_adjust_head/tail move them as :class:`XdpFrame`'s."""

    def __init__(self, run: Any):
        self.run = run
        self.pointers: dict[int, int] = {}
        self._moved_end: int | None = None

    @property
    def buffer(self) -> Any:  # type: ignore[override]
        return self.run.frame_buffer()

    @property
    def head(self) -> int:
        return int(self.run.frame_bounds()[0])

    @head.setter
    def head(self, value: int) -> None:
        self.run.set_frame_bounds(value, self.tail)

    @property
    def tail(self) -> int:
        return int(self.run.frame_bounds()[1])

    @tail.setter
    def tail(self, value: int) -> None:
        self.run.set_frame_bounds(self.head, value)

    @property
    def end(self) -> int:
        if self._moved_end is not None:
            return self._moved_end
        return self.run.pointer(4) - (INPUT_BASE - XDP_HEADROOM)

    @end.setter
    def end(self, value: int) -> None:
        self._moved_end = value         # (the state's pointer changes when published)

    def publish(self) -> None:
        super().publish()
        if self._moved_end is not None:
            self.pointers[4] = INPUT_BASE - XDP_HEADROOM + self._moved_end
            self._moved_end = None
        self.run.set_pointers(self.pointers)


def _xdp_md(ctx: bytes | None) -> bytearray:
    """An XDP test run's ``xdp_md`` (its pointers are the frame's): the given one, with
    ``ingress_ifindex`` the loopback's where it names no device — the kernel's test run
    takes the packet in on queue 0 of the namespace's loopback then."""
    context = bytearray(ctx or b"").ljust(XDP_MD_SIZE, b"\0")[:XDP_MD_SIZE]
    if not struct.unpack_from("<I", context, 12)[0]:
        struct.pack_into("<I", context, 12, LOOPBACK_IFINDEX)
    return context


def _context(kind: ProgramType, packet: bytearray, ctx: bytes | None,
             memory: Memory) -> tuple[bytearray, XdpFrame | None]:
    """Map the packet and build the program type's context (the kernel's test-run layout);
    the XDP frame, for an XDP program."""
    visible = packet if kind in _LAYER2 or kind not in _SKB_TYPES else memoryview(packet)[ETH_HLEN:]
    memory.map(visible, writable=True, name="packet", base=INPUT_BASE)
    end = INPUT_BASE + len(visible)
    if kind in _SKB_TYPES:
        context = bytearray(ctx or b"").ljust(SK_BUFF_SIZE, b"\0")[:SK_BUFF_SIZE]
        protocol, pkt_type = eth_type_trans(packet)
        struct.pack_into("<I", context, 0, len(visible))                   # len
        struct.pack_into("<I", context, 4, pkt_type)
        struct.pack_into("<I", context, 16, struct.unpack("<H", struct.pack(">H", protocol))[0])  # protocol, network order
        if struct.unpack_from("<I", context, 40)[0] <= 1:                  # ifindex: the test run's loopback
            struct.pack_into("<I", context, 40, LOOPBACK_IFINDEX)
        # wire_len: a test run without a context leaves it 0; one with a context, its
        # wire_len or else the packet's length
        wire_len = struct.unpack_from("<I", context, 160)[0] or len(visible) if ctx else 0
        struct.pack_into("<I", context, 160, wire_len)
        pointers = {76: INPUT_BASE, 80: end} if kind in _DIRECT_PACKET else {}
        memory.map(context, writable=True, name="__sk_buff", base=CONTEXT_BASE)
        memory.regions[0].pointers = pointers
        return context, None
    if kind == ProgramType.XDP:
        context = _xdp_md(ctx)
        memory.unmap(INPUT_BASE)
        frame = XdpFrame(packet)
        memory.map(frame.buffer, writable=True, name="xdp frame", base=INPUT_BASE - XDP_HEADROOM)
        memory.map(context, writable=False, name="xdp_md", base=CONTEXT_BASE)
        frame.pointers = memory.regions[0].pointers = {}
        frame.publish()
        return context, frame
    context = bytearray(ctx or b"")
    memory.map(context, writable=True, name="context", base=CONTEXT_BASE)
    return context, None


def _verify(spec: ProgramSpec, checked: Checked, maps: dict[int, VmMap]) -> dict[int, frozenset[str]]:
    """Refuse, as the kernel does, a program :mod:`pybpf.verifier` finds unsafe; for a
    program it accepts, what it proved of each memory access."""
    egress = spec.expected_attach_type == AttachType.CGROUP_INET_EGRESS and spec.type == ProgramType.CGROUP_SKB
    options: dict[str, Any] = {"return_range": (0, 3) if egress else None,
                               "func_info": spec.btf is not None and bool(spec.btf.func_info),
                               "attach_type": spec.expected_attach_type, "attach_to": spec.attach_to,
                               "license": spec.license}
    infos = {i: map_info(i, m.spec if not m.btf_dropped else m.spec.copy(btf=None)) for i, m in maps.items()}
    verdict = verify(checked.instructions, spec.type, infos, **options)
    if verdict.accepted:
        return verdict.accesses
    # as the kernel engine does: verify again with a log only for a refused program
    verdict = verify(checked.instructions, spec.type, infos, log_level=1, **options)
    source = [spec.explain(verdict.slot)] if verdict.slot is not None else []
    source += [f"(instruction {slot}) {spec.explain(slot)}" for slot in verdict.related if spec.explain(slot)]
    hint = verdict.message + (f": {verdict.why}" if verdict.why else "")
    raise VerifierError("BPF_PROG_LOAD", verdict.errno, verdict.log, f"program {spec.name!r} (vm)", hint,
                        "\n".join(line for line in source if line), verdict.slot)


def load_collection(spec: CollectionSpec, cpus: int | None = None, jit: bool | None = None,
                    **_: Any) -> Collection:
    """Create the maps and load the programs of ``spec`` in the vm; ``cpus`` sets how
    many CPUs per-CPU maps have (test_run's ``cpu`` picks the one a run sees); ``jit``
    whether runs use the JIT (default: yes, unless :data:`JIT_ENV` is ``off``)."""
    use_jit = jit_wanted(jit)
    maps: dict[str, VmMap] = {}
    programs: dict[str, Program] = {}
    collection = Collection("vm", maps, programs)  # type: ignore[arg-type]
    try:
        if spec.maps:
            from pybpf.vm.maps import create_map  # (a program without maps is run without them)

            for name, map_spec in spec.maps.items():
                maps[name] = create_map(map_spec, cpus)
        by_id = {m.id: m for m in maps.values()}
        for name, prog_spec in spec.programs.items():
            instructions = prog_spec.relocated(lambda m: maps[m].id)
            try:
                checked = Checked(instructions, maps=by_id)
            except VMError as exc:
                raise VerifierError("BPF_PROG_LOAD", errno.EINVAL, str(exc), f"program {name!r} (vm)",
                                    exc.reason, prog_spec.explain(exc.index) if exc.index is not None else "",
                                    exc.index) from None
            accesses = _verify(prog_spec, checked, by_id)
            programs[name] = VmProgram(prog_spec, checked, use_jit, accesses)
    except BaseException:
        collection.close()
        raise
    return collection
