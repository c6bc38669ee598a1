"""The vm engine's entry points for :func:`pybpf.engine.load`, and its programs.

``load_collection`` creates the maps (:mod:`pybpf.vm.maps`), relocates each program's
map references to map ids, and checks each program as the kernel's verifier would for
the vm can run (valid code, helpers the vm implements) and then with
:mod:`pybpf.verifier`, the kernel's safety rules. ``test_run`` builds the context the kernel's BPF_PROG_TEST_RUN
builds for the program type from the packet: ``__sk_buff`` for socket filters, tc and
cgroup skb programs, ``xdp_md`` for XDP.
"""

from __future__ import annotations

import errno
import struct
import time
from typing import Any

from pybpf.engine import BPFError, Collection, Program, RunResult, VerifierError
from pybpf.isa import opcodes as o
from pybpf.object import AttachType, CollectionSpec, ProgramSpec, ProgramType
from pybpf.verifier import map_info, verify
from pybpf.vm.errors import VMError
from pybpf.vm.helpers import HELPERS
from pybpf.vm.helpers.events import release_reservations
from pybpf.vm.helpers.tail_calls import MAX_TAIL_CALLS, TailCall
from pybpf.vm.interpreter import Machine
from pybpf.vm.maps import OBJECTS, VmMap, create_map, new_id
from pybpf.vm.memory import INPUT_BASE, STACK_TOP
from pybpf.vm.program import CheckedProgram as Checked

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


def available() -> str | None:
    """The vm runs anywhere Python does."""
    return None


class VmProgram(Program):
    """A program loaded into the vm engine."""

    engine = "vm"

    def __init__(self, spec: ProgramSpec, checked: Checked):
        super().__init__(spec)
        self.checked = checked
        self._id = new_id(self)

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
            _check_network_header(data, self.spec.name)
        start = time.perf_counter_ns()
        for _ in range(repeat):
            retval, packet, context = self._run_once(data, ctx, cpu)
        duration = (time.perf_counter_ns() - start) // repeat
        return RunResult(retval, bytes(packet[:data_out_size]), bytes(context[:ctx_out_size]), duration)

    def _run_once(self, data: bytes, ctx: bytes | None, cpu: int) -> tuple[int, bytearray, bytearray]:
        """One run, through any chain of tail calls: as in the kernel, the programs of a
        chain share the context, the packet and the stack frame (skb->cb[], skb->mark,
        packet writes and xdp_adjust_head carry over), and after 33 tail calls a further
        bpf_tail_call fails and returns to its caller."""
        packet = bytearray(data)
        program: VmProgram = self
        machine = Machine(program.checked, cpu=cpu)
        context = _context(program.type, packet, ctx, machine)
        machine.memory.map(bytearray(o.STACK_SIZE), writable=True, name="stack",
                           base=STACK_TOP - 0x10000, aligned=True)
        tail_calls = 0
        while True:
            machine.regs[1], machine.regs[10] = CONTEXT_BASE, STACK_TOP - 0x10000 + o.STACK_SIZE
            machine.__dict__["tail_calls_left"] = MAX_TAIL_CALLS - tail_calls
            try:
                retval, _ = machine.run()
                break
            except TailCall as call:
                tail_calls += 1
                program = call.program
                machine = _successor(machine, program)
            except VMError as exc:
                raise _explained(exc, program.spec) from None
            finally:
                release_reservations(machine)
        width = 0xFFFF_FFFF if program.type != ProgramType.SYSCALL else (1 << 64) - 1
        frame = machine.__dict__.get("xdp_frame")
        if frame is not None:  # XDP may have moved the packet's start and end
            packet = bytearray(frame.buffer[frame.head:frame.tail])
        if program.type in _SKB_TYPES and program.type not in _LAYER2:
            packet[:ETH_HLEN] = bytes(ETH_HLEN)   # the kernel hands back a zeroed link-layer header
        return retval & width, packet, context


def _successor(machine: Machine, program: VmProgram) -> Machine:
    """The machine for a tail-called ``program``: the same memory (context, packet,
    stack, map values and reserved records) and run state (XDP frame), new code."""
    successor = Machine(program.checked, memory=machine.memory, cpu=machine.cpu)
    for name, value in machine.__dict__.items():
        if name not in successor.__dict__:
            successor.__dict__[name] = value
    return successor


#: ethertype → the network header a skb test run must hold whole (IPv4, IPv6)
_NETWORK_HEADERS = {0x0800: 20, 0x86DD: 40}


def _check_network_header(data: bytes, name: str) -> None:
    """The kernel's skb test run refuses an IPv4 or IPv6 packet whose network header is
    cut short (it reads the addresses into the test run's socket); so does the vm."""
    need = _NETWORK_HEADERS.get(int.from_bytes(data[12:14], "big"))
    if need is not None and len(data) < ETH_HLEN + need:
        raise BPFError("BPF_PROG_TEST_RUN", errno.EINVAL,
                       f"a skb test run of an {'IPv4' if need == 20 else 'IPv6'} packet needs its whole "
                       f"{need}-byte header, got {len(data) - ETH_HLEN} bytes after the Ethernet header",
                       f"program {name!r}")


def _explained(exc: VMError, spec: ProgramSpec) -> VMError:
    """A run-time error with the C line of its instruction (and a failed CO-RE
    relocation, for a poisoned one) when the program's debug info knows them."""
    extra = spec.explain(exc.index) if exc.index is not None else ""
    if not extra:
        return exc
    return VMError(exc.reason + "".join(f"\n  {line}" for line in extra.splitlines()), exc.index)


XDP_HEADROOM = 256
#: how far bpf_xdp_adjust_tail may grow a test-run packet (the kernel's frame minus its
#: headroom and shared info, on 4 KiB pages)
XDP_TAILROOM = 4096 - XDP_HEADROOM - 320


class XdpFrame:
    """An XDP test-run buffer: headroom, the packet, tailroom; ``head``/``tail`` move
    with bpf_xdp_adjust_head/tail and the context's data pointers follow."""

    def __init__(self, packet: bytearray):
        self.buffer = bytearray(XDP_HEADROOM) + packet + bytearray(max(0, XDP_TAILROOM - len(packet)))
        self.head, self.tail = XDP_HEADROOM, XDP_HEADROOM + len(packet)
        self.pointers: dict[int, int] = {}

    def publish(self) -> None:
        """Point xdp_md's data, data_end and data_meta at the current packet."""
        base = INPUT_BASE - XDP_HEADROOM
        self.pointers.update({0: base + self.head, 4: base + self.tail, 8: base + self.head})

    def adjust_head(self, delta: int) -> int:
        head = self.head + delta
        if head < 0 or self.tail - head < ETH_HLEN:
            return -errno.EINVAL
        self.head = head
        self.publish()
        return 0

    def adjust_tail(self, delta: int) -> int:
        tail = self.tail + delta
        if tail > len(self.buffer) or tail - self.head < ETH_HLEN:
            return -errno.EINVAL
        if delta > 0:
            self.buffer[self.tail:tail] = bytes(delta)
        self.tail = tail
        self.publish()
        return 0


def _context(kind: ProgramType, packet: bytearray, ctx: bytes | None, machine: Machine) -> bytearray:
    """Map the packet and build the program type's context (the kernel's test-run layout)."""
    memory = machine.memory
    visible = packet if kind in _LAYER2 or kind not in _SKB_TYPES else memoryview(packet)[ETH_HLEN:]
    memory.map(visible, writable=True, name="packet", base=INPUT_BASE)
    end = INPUT_BASE + len(visible)
    if kind in _SKB_TYPES:
        context = bytearray(ctx or b"").ljust(SK_BUFF_SIZE, b"\0")[:SK_BUFF_SIZE]
        protocol = struct.unpack_from(">H", packet, 12)[0] if len(packet) >= 14 else 0
        struct.pack_into("<I", context, 0, len(visible))                   # len
        struct.pack_into("<I", context, 16, struct.unpack("<H", struct.pack(">H", protocol))[0])  # protocol, network order
        struct.pack_into("<I", context, 160, len(visible))                 # wire_len
        pointers = {76: INPUT_BASE, 80: end} if kind in _DIRECT_PACKET else {}
        memory.map(context, writable=True, name="__sk_buff", base=CONTEXT_BASE)
        memory.regions[0].pointers = pointers
        return context
    if kind == ProgramType.XDP:
        context = bytearray(ctx or b"").ljust(XDP_MD_SIZE, b"\0")[:XDP_MD_SIZE]
        memory.unmap(INPUT_BASE)
        frame = XdpFrame(packet)
        memory.map(frame.buffer, writable=True, name="xdp frame", base=INPUT_BASE - XDP_HEADROOM)
        memory.map(context, writable=False, name="xdp_md", base=CONTEXT_BASE)
        frame.pointers = memory.regions[0].pointers = {}
        frame.publish()
        machine.__dict__["xdp_frame"] = frame
        return context
    context = bytearray(ctx or b"")
    memory.map(context, writable=True, name="context", base=CONTEXT_BASE)
    return context


def _verify(spec: ProgramSpec, checked: Checked, maps: dict[int, VmMap]) -> None:
    """Refuse, as the kernel does, a program :mod:`pybpf.verifier` finds unsafe."""
    egress = spec.expected_attach_type == AttachType.CGROUP_INET_EGRESS and spec.type == ProgramType.CGROUP_SKB
    options = {"return_range": (0, 3) if egress else None,
               "func_info": spec.btf is not None and bool(spec.btf.func_info)}
    infos = {i: map_info(i, m.spec) for i, m in maps.items()}
    verdict = verify(checked.instructions, spec.type, infos, **options)
    if verdict.accepted:
        return
    # as the kernel engine does: verify again with a log only for a refused program
    verdict = verify(checked.instructions, spec.type, infos, log_level=1, **options)
    source = [spec.explain(verdict.slot)] if verdict.slot is not None else []
    source += [f"(instruction {slot}) {spec.explain(slot)}" for slot in verdict.related if spec.explain(slot)]
    hint = verdict.message + (f": {verdict.why}" if verdict.why else "")
    raise VerifierError("BPF_PROG_LOAD", verdict.errno, verdict.log, f"program {spec.name!r} (vm)", hint,
                        "\n".join(line for line in source if line), verdict.slot)


def load_collection(spec: CollectionSpec, cpus: int | None = None, **_: Any) -> Collection:
    """Create the maps and load the programs of ``spec`` in the vm; ``cpus`` sets how
    many CPUs per-CPU maps have (test_run's ``cpu`` picks the one a run sees)."""
    maps: dict[str, VmMap] = {}
    programs: dict[str, Program] = {}
    collection = Collection("vm", maps, programs)  # type: ignore[arg-type]
    try:
        for name, map_spec in spec.maps.items():
            maps[name] = create_map(map_spec, cpus)
        by_id = {m.id: m for m in maps.values()}
        for name, prog_spec in spec.programs.items():
            instructions = prog_spec.relocated(lambda m: maps[m].id)
            try:
                checked = Checked(instructions, HELPERS, by_id)
            except VMError as exc:
                raise VerifierError("BPF_PROG_LOAD", errno.EINVAL, str(exc), f"program {name!r} (vm)",
                                    exc.reason, prog_spec.explain(exc.index) if exc.index is not None else "",
                                    exc.index) from None
            _verify(prog_spec, checked, by_id)
            programs[name] = VmProgram(prog_spec, checked)
    except BaseException:
        collection.close()
        raise
    return collection
