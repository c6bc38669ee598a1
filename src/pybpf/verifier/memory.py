"""Memory accesses through pointers: stack slots (with spills), context fields, map
values and keys, packets and ring-buffer memory, each with the kernel's bounds rules and
messages. :func:`access` is used by loads, stores, atomics and helper arguments.
"""

from __future__ import annotations

import errno

from pybpf.object import ProgramType
from pybpf.verifier import scalar as sc
from pybpf.verifier import state as s
from pybpf.verifier.context import context_access, sock_field_size
from pybpf.verifier.program import Refused

MAX_VAR_OFF = 1 << 29
STACK_SIZE = 512
#: program types that may write packet data directly
PACKET_WRITERS = {ProgramType.XDP, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.LWT_XMIT,
                  ProgramType.SK_SKB, ProgramType.SK_MSG}
#: program types whose context gives direct packet access
PACKET_READERS = PACKET_WRITERS | {ProgramType.CGROUP_SKB, ProgramType.LWT_IN, ProgramType.LWT_OUT,
                                   ProgramType.FLOW_DISSECTOR}


def loaded(size: int, value: sc.Scalar | None = None) -> s.Reg:
    """The register a ``size``-byte load yields when nothing more is known."""
    if value is not None:
        return s.scalar(value)
    return s.scalar(sc.unsigned_range(0, (1 << (8 * size)) - 1) if size < 8 else sc.UNKNOWN)


class Access:
    """One access: ``size`` bytes at ``off`` from register ``regno`` of ``state``;
    ``value`` is the register written (None for reads, helper writes)."""

    def __init__(self, verifier, state: s.State, regno: int, off: int, size: int, write: bool,
                 value: s.Reg | None = None, helper: bool = False):
        self.v, self.state, self.regno, self.off, self.size = verifier, state, regno, off, size
        self.write, self.value, self.helper = write, value, helper
        self.reg = state.regs[regno] if regno >= 0 else None

    def fail(self, message: str, code: int = errno.EACCES) -> Refused:
        return Refused(message, self.v.index, errno=code)

    # -- bounds of a region [0, limit) -------------------------------------------------

    def region(self, reg: s.Reg, limit: int, what: str) -> None:
        """The kernel's ``check_mem_region_access``: the fixed and variable offset together
        stay inside ``[0, limit)``: first the lowest offset, then the highest, each
        refused with the offending access and which end is outside."""
        var, fixed = reg.var, reg.off + self.off
        low = fixed + var.smin
        if var.smin < 0 and (var.smin == sc.S64_MIN or low != sc.signed(low, 32) or low < 0):
            raise self.fail(f"R{self.regno} min value is negative, either use unsigned index or do a if "
                            "(index >=0) check.")
        if not self._inside(low, limit):
            raise self.fail(f"{self._outside(what, limit, low)}\n"
                            f"R{self.regno} min value is outside of the allowed memory range")
        if var.umax >= MAX_VAR_OFF:
            raise self.fail(f"R{self.regno} unbounded memory access, make sure to bounds check any such access")
        if not self._inside(fixed + var.umax, limit):
            raise self.fail(f"{self._outside(what, limit, fixed + var.umax)}\n"
                            f"R{self.regno} max value is outside of the allowed memory range")

    def _inside(self, start: int, limit: int) -> bool:
        """The kernel's ``__check_mem_access`` of ``size`` bytes at ``start``."""
        return start >= 0 and (self.size > 0 or self.helper) and start + self.size <= limit

    def _outside(self, what: str, limit: int, start: int) -> str:
        if what == "packet":
            reg = self.reg
            return (f"invalid access to packet, off={start} size={self.size}, "
                    f"R{self.regno}(id={reg.id},off={reg.off},r={reg.range})")
        return f"invalid access to {what}, {self._limit_name(what)}={limit} off={start} size={self.size}"

    @staticmethod
    def _limit_name(what: str) -> str:
        return {"map value": "value_size", "map key": "key_size", "memory": "mem_size"}.get(what, "size")

    # -- per pointer kind -------------------------------------------------------------

    def run(self) -> s.Reg | None:
        """Check the access; for a read, the register it yields."""
        reg = self.reg
        assert reg is not None, "an access through a register (regno >= 0)"
        kind = reg.type
        if not self.helper:     # what each instruction reaches, for a JIT that trusts the verdict
            own = kind != s.STACK or getattr(reg, "frame", 0) == len(self.state.frames) - 1
            self.v.result.accesses.setdefault(self.v.index, set()).add(kind if own else "caller fp")
        if kind == s.STACK:
            return self.stack()
        if kind == s.MAP_VALUE:
            if self.write and reg.map.readonly:
                raise self.fail(f"write into map forbidden, value_size={reg.map.value_size} off={reg.off + self.off} "
                                f"size={self.size}")
            self.region(reg, reg.map.value_size, "map value")
            # a bpf_spin_lock or bpf_timer in the value is the helpers' alone
            start = reg.off + self.off
            for name, at, size in reg.map.fields() if reg.map is not None else ():
                if start + reg.var.smin < at + size and at < start + reg.var.umax + self.size:
                    raise self.fail(f"{name} cannot be accessed directly by load/store")
            if self.write:
                return None
            frozen = reg.map.frozen
            start += sc.signed(reg.var.value)
            if frozen is not None and reg.var.is_const and start + self.size <= len(frozen):
                # the kernel reads a frozen read-only map's bytes at load: a constant
                return s.constant(int.from_bytes(frozen[start:start + self.size], "little"))
            return loaded(self.size)
        if kind == s.MAP_KEY:
            if self.write:
                raise self.fail(f"write to change key R{self.regno} not allowed")
            self.region(reg, reg.map.key_size, "map key")
            return loaded(self.size)
        if kind in (s.MEM, s.DYNPTR_MEM):
            self.region(reg, reg.size, "memory")
            return None if self.write else loaded(self.size)
        if kind in s.PACKETS:
            if self.write and self.v.kind not in PACKET_WRITERS:
                raise self.fail("cannot write into packet")
            self.packet(reg)
            return None if self.write else loaded(self.size)
        if kind == s.CTX and not self.helper:
            return self.context()
        if kind in s.SOCKETS and not self.helper:
            return self.socket()
        if kind in s.BUFFERS:
            return self.buffer()
        if kind == s.UNTRUSTED_MEM and not self.helper:
            if self.write:
                raise self.fail(f"R{self.regno} cannot write into {kind}")
            return loaded(self.size)
        if kind in s.BTF_POINTERS and not self.helper:
            return self.kernel_object()
        raise self.fail(f"R{self.regno} invalid mem access '{kind}'")

    def buffer(self) -> s.Reg | None:
        """The kernel's ``check_buffer_access``: an iterator's key or value buffer, at a
        constant offset from its start (the kernel checks the furthest byte reached
        against the map's key and value sizes when the iterator is attached)."""
        reg = self.state.regs[self.regno]
        off = reg.off + self.off
        if reg.type == s.RDONLY_BUF and self.write:
            raise self.fail(f"R{self.regno} cannot write into {reg.type}")
        what = "rdonly" if reg.type == s.RDONLY_BUF else "rdwr"
        if off < 0:
            raise self.fail(f"R{self.regno} invalid {what} buffer access: off={off}, size={self.size}")
        if not reg.var.is_const or reg.var.value:
            raise self.fail(f"R{self.regno} invalid variable buffer offset: off={off}, var_off={reg.var.tnum}")
        return None if self.write else loaded(self.size)

    def kernel_object(self) -> s.Reg:
        """A field of the kernel struct a BTF pointer points at, read only."""
        from pybpf.verifier.btf_pointers import object_read

        reg = self.state.regs[self.regno]
        return object_read(self.v, self.v.kernel_types(), reg, self.regno, reg.off + self.off, self.size, self.write)

    def packet(self, reg: s.Reg) -> None:
        """The kernel's ``check_packet_access``: a verified range belongs to every copy of
        the pointer with the same variable offset (``ip + ihl * 4`` checked against the end
        may then be read), so only the fixed offset is held to it; the variable part must
        not be negative. (The kernel's message shows the access's offset twice.)"""
        if reg.var.smin < 0:
            raise self.fail(f"R{self.regno} min value is negative, either use unsigned index or do a if "
                            "(index >=0) check.")
        off = reg.off + self.off
        if off < 0 or off + self.size > reg.range or (self.size == 0 and not self.helper):
            raise self.fail(f"invalid access to packet, off={off} size={self.size}, "
                            f"R{self.regno}(id={reg.id},off={off},r={reg.range})\n"
                            f"R{self.regno} offset is outside of the packet")

    def context(self) -> s.Reg | None:
        reg = self.reg
        if not reg.var.is_const:
            raise self.fail(f"variable ctx access var_off={reg.var.tnum} disallowed")
        if reg.off or reg.var.value:
            raise self.fail(f"dereference of modified ctx ptr R{self.regno} off={reg.off + reg.var.value} disallowed")
        if self.v.target is not None:
            from pybpf.verifier.btf_pointers import context_read

            return context_read(self.v, self.v.target, self.off, self.size, self.write)
        problem, pointer, why = context_access(self.v.kind, self.off, self.size, self.write)
        if problem is not None:
            raise Refused(problem, self.v.index, why)
        if self.write:
            return None
        if pointer == s.SOCK_COMMON + s.OR_NULL:
            return s.Reg(pointer, sc.const(0), id=self.v.new_id())
        if pointer is not None and self.v.kind in PACKET_READERS:
            return s.Reg(pointer, sc.const(0))
        return loaded(self.size)

    def socket(self) -> s.Reg:
        """A field of ``struct bpf_sock`` (``bpf_sock_common``: fewer), read only."""
        reg = self.reg
        assert reg is not None          # a socket pointer register
        if self.write:
            raise self.fail(f"R{self.regno} cannot write into {reg.type}")
        off = reg.off + self.off
        size = sock_field_size(off, self.size, reg.type == s.SOCK)
        if size is None:
            raise self.fail(f"R{self.regno} invalid {reg.type} access off={off} size={self.size}")
        return loaded(self.size)

    # -- the stack --------------------------------------------------------------------

    def stack(self) -> s.Reg | None:
        reg = self.reg
        frame = self.state.frames[reg.frame]
        var, fixed = reg.var, reg.off + self.off
        if not _aligned(var, fixed, self.size) and not self.helper:
            raise self.fail(f"misaligned stack access off {var.tnum}+{reg.off}+{self.off} size {self.size}")
        if var.is_const:
            start = fixed + sc.signed(var.value)
            if start < -STACK_SIZE or start + self.size > 0 or self.size <= 0 and not self.helper:
                what = " write to" if self.write else " read from"
                # a helper's memory argument out of the stack is EINVAL, a load or store EACCES
                raise self.fail(f"invalid{what} stack R{self.regno} off={start} size={self.size}",
                                errno.EINVAL if self.helper else errno.EACCES)
            self.v.note_depth(self.state, reg.frame, start)
            if any(_kind(frame, byte) == s.DYNPTR for byte in range(start, start + self.size)):
                if self.write:
                    raise self.fail("cannot overwrite referenced dynptr", errno.EINVAL)
                raise self.fail(f"invalid read from stack off {start}+0 size {self.size}")
            if self.write:
                if self.value is not None and self.value.is_pointer and self.size != 8:
                    raise self.fail("invalid size of register spill")
                _write(frame, start, self.size, self.value)
                return None
            return _read(self, frame, start)
        low, high = fixed + var.smin, fixed + var.smax + self.size
        if var.smin < -MAX_VAR_OFF or var.smax > MAX_VAR_OFF or low < -STACK_SIZE or high > 0:
            what = " write" if self.write else " read"
            raise self.fail(f"invalid variable-offset{what} stack R{self.regno} var_off={var.tnum} "
                            f"off={self.off} size={self.size}")
        self.v.note_depth(self.state, reg.frame, low)
        if self.write:
            for byte in range(low, high):
                _write(frame, byte, 1, None)
            return None
        return loaded(self.size)      # privileged programs may read stack never written


def _aligned(var: sc.Scalar, fixed: int, size: int) -> bool:
    t = var.tnum
    low = (t.value + fixed) & (size - 1)
    return not low and not (t.mask & (size - 1))


def _slot(frame: s.Frame, byte: int) -> tuple[s.Slot, int]:
    """The slot holding ``byte``, made this state's own to be changed (slots are shared
    by copies of a state)."""
    index = (-byte - 1) // 8
    slot = frame.stack.get(index)
    slot = frame.stack[index] = s.Slot() if slot is None else s.Slot(slot.kinds, slot.spilled)
    return slot, (-byte - 1) % 8


def _kind(frame: s.Frame, byte: int) -> str:
    slot = frame.stack.get((-byte - 1) // 8)
    return s.INVALID if slot is None else slot.kinds[(-byte - 1) % 8]


def _write(frame: s.Frame, start: int, size: int, value: s.Reg | None) -> None:
    """Record a store of ``value`` (None: some unknown bytes) to ``[start, start+size)``."""
    if size == 8 and start % 8 == 0 and value is not None:
        frame.stack[(-start - 1) // 8] = s.Slot(s.SPILL * 8, value)
        return
    if start % 8 == 0 and value is not None and value.type == s.SCALAR and (
            value.var.is_const or value.var.umax >> (8 * size) == 0):
        # a narrow spill of a scalar that fits (the low bytes of the slot), as the kernel
        # keeps it; a constant that does not fit keeps its low bytes
        slot, _ = _slot(frame, start)
        kinds = slot.kinds if slot.spilled is None else slot.kinds.replace(s.SPILL, s.MISC)
        slot.kinds = kinds[:8 - size] + s.SPILL * size
        slot.spilled = (s.constant(value.var.value & ((1 << (8 * size)) - 1)) if value.var.is_const
                        else value)
        return
    zero = value is not None and value.var.is_const and value.var.value == 0
    for byte in range(start, start + size):
        slot, i = _slot(frame, byte)
        if slot.spilled is not None:             # a partial overwrite ends the spill
            slot.kinds = slot.kinds.replace(s.SPILL, s.MISC)
            slot.spilled = None
        slot.kinds = slot.kinds[:i] + (s.ZERO if zero else s.MISC) + slot.kinds[i + 1:]


def _read(access: Access, frame: s.Frame, start: int) -> s.Reg:
    size = access.size
    slot = frame.stack.get((-start - 1) // 8)
    if slot is not None and slot.spilled is not None and start % 8 == 0:
        spilled, count = slot.spilled, slot.kinds.count(s.SPILL)
        # the register whole, or a narrower part of a scalar whose value fits in it
        if count == size or (size < count and spilled.type == s.SCALAR and spilled.var.umax >> (8 * size) == 0):
            return spilled
    # privileged programs may read stack never written: it reads as some value
    kinds = [_kind(frame, byte) for byte in range(start, start + size)]
    if slot is not None and slot.spilled is not None and slot.spilled.is_pointer and not access.helper:
        raise access.fail("invalid size of register fill")
    if all(k == s.ZERO for k in kinds):
        return s.constant(0)
    zero = slot is not None and slot.spilled is not None and slot.spilled.type == s.SCALAR and \
        slot.spilled.var.is_const and slot.spilled.var.value == 0
    if zero and all(k == s.SPILL for k in kinds):
        return s.constant(0)            # part of a spilled zero is zero
    return loaded(size)


def constant_key(frame: s.Frame, start: int, size: int) -> int | None:
    """The kernel's ``get_constant_map_key``: the value of a ``size``-byte map key at
    ``start`` when the stack holds it as zero bytes or in a spilled constant scalar
    whose spilled bytes up to the key's first are exactly ``size`` (its whole value,
    as the kernel takes it); None otherwise."""
    slot = frame.stack.get((-start - 1) // 8)
    if slot is None:
        return None
    first = (-start - 1) % 8
    below = slot.kinds[first::-1]          # the key's first byte down to the slot's last
    if len(below) - len(below.lstrip(s.ZERO)) >= size:
        return 0
    spilled = slot.spilled
    if spilled is None or spilled.type != s.SCALAR or not spilled.var.is_const:
        return None
    if len(below) - len(below.lstrip(s.SPILL)) != size:
        return None
    return spilled.var.value

