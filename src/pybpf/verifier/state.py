"""Abstract machine state: registers, stack slots, frames, and acquired references.

A :class:`Reg` is either uninitialised, a scalar (``var`` is its value), or a pointer of
a kind in :data:`POINTERS` (``off`` its fixed offset, ``var`` its variable offset).
``id`` links copies of one maybe-NULL pointer (a NULL check applies to all of them) or
one packet pointer (a range check does); ``ref`` is the acquired reference a pointer
holds (ring-buffer memory), which the program must release before it exits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from pybpf.verifier import scalar as sc

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

NOT_INIT, SCALAR = "?", "scalar"
CTX, STACK, MAP_VALUE, MAP_KEY, MAP_PTR = "ctx", "fp", "map_value", "map_key", "map_ptr"
PKT, PKT_END, PKT_META, MEM, FUNC = "pkt", "pkt_end", "pkt_meta", "ringbuf_mem", "func"
#: memory of a dynptr (``bpf_dynptr_data``'s slice); what a dynptr stack slot holds
DYNPTR_MEM, DYNPTR_SLOT = "mem", "dynptr"
#: the socket __sk_buff's ``sk`` names; a full socket (``bpf_sk_lookup_tcp``'s, referenced)
SOCK_COMMON, SOCK = "sock_common", "sock"
OR_NULL = "_or_null"
#: pointers to kernel objects typed by the kernel's BTF (PTR_TO_BTF_ID): plain ones (an
#: fentry program's arguments and what is read through them), trusted ones (a BTF
#: tracepoint's or an iterator's own arguments, bpf_get_current_task_btf), RCU-protected
#: ones and untrusted ones (a pointer member the kernel does not vouch for, read through
#: a trusted pointer); the kernel spells their maybe-NULL forms ``ptr_or_null_``
BTF_PTR, TRUSTED_PTR, RCU_PTR, UNTRUSTED_PTR = "ptr_", "trusted_ptr_", "rcu_ptr_", "untrusted_ptr_"
BTF_POINTERS = {BTF_PTR, TRUSTED_PTR, RCU_PTR, UNTRUSTED_PTR}
#: what a pointer member to anything but a struct reads as: kernel memory read at any
#: offset (a fault reads zero), never written
UNTRUSTED_MEM = "rdonly_untrusted_mem"
#: a map element iterator's key (read only) and value (read and written), whose size
#: the kernel checks when the iterator is attached to a map
BUF, RDONLY_BUF = "buf", "rdonly_buf"
BUFFERS = {BUF, RDONLY_BUF}
BTF_OR_NULL = "or_null_"
POINTERS = ({CTX, STACK, MAP_VALUE, MAP_KEY, MAP_PTR, PKT, PKT_END, PKT_META, MEM, FUNC, SOCK_COMMON, SOCK,
             DYNPTR_MEM, DYNPTR_SLOT, UNTRUSTED_MEM} | BTF_POINTERS | BUFFERS)
SOCKETS = {SOCK, SOCK_COMMON}
PACKETS = {PKT, PKT_META}


@dataclass(frozen=True)
class MapInfo:
    """What the verifier knows about a map an lddw names."""

    id: int
    type: Any
    key_size: int
    value_size: int
    max_entries: int
    readonly: bool = False
    name: str = ""
    #: the value of a frozen read-only map (``.rodata``): loads from it are constants
    frozen: bytes | None = None
    #: the map was created with BTF for its value; the offset of the value's ``struct
    #: bpf_spin_lock`` (-1: none)
    btf: bool = False
    spin_lock: int = -1
    #: the offset of the value's ``struct bpf_timer`` (-1: none)
    timer: int = -1

    def fields(self) -> tuple[tuple[str, int, int], ...]:
        """(name, offset, size) of the value's fields only helpers may touch."""
        return tuple((name, off, size) for name, off, size in (("bpf_spin_lock", self.spin_lock, 4),
                                                               ("bpf_timer", self.timer, 16)) if off >= 0)


@dataclass(frozen=True)
class KernelType:
    """The struct a BTF pointer points at: its id in the kernel's BTF and its name."""

    id: int
    name: str


def nullable(kind: str) -> str:
    """The maybe-NULL form of pointer kind ``kind``."""
    return kind + (BTF_OR_NULL if kind in BTF_POINTERS else OR_NULL)


def not_null(kind: str) -> str:
    """Pointer kind ``kind`` once a NULL check has ruled NULL out."""
    for suffix in (OR_NULL, BTF_OR_NULL):
        if kind.endswith(suffix):
            return kind[:-len(suffix)]
    return kind


def is_btf(kind: str) -> bool:
    """Whether ``kind`` is a BTF pointer, maybe-NULL or not."""
    return not_null(kind) in BTF_POINTERS


class Reg:
    """One register's abstract value. Never changed once in a state: copies of a state
    share their registers, and a change puts a new register in place (:meth:`but`)."""

    __slots__ = ("btf", "frame", "id", "map", "off", "origin", "range", "ref", "size", "type", "var")

    def __init__(self, type: str = NOT_INIT, var: sc.Scalar = sc.UNKNOWN, off: int = 0, id: int = 0,
                 ref: int = 0, map: MapInfo | None = None, range: int = 0, size: int = 0, frame: int = 0,
                 origin: int = -1, btf: KernelType | None = None):
        self.type, self.var, self.off, self.id, self.ref = type, var, off, id, ref
        self.map, self.range, self.size, self.frame = map, range, size, frame
        #: the instruction that made this pointer (explanations: "r0 came from ... at ...")
        self.origin = origin
        #: for a BTF pointer: the kernel struct it points at
        self.btf = btf

    def copy(self) -> Reg:
        return Reg(self.type, self.var, self.off, self.id, self.ref, self.map, self.range, self.size,
                   self.frame, self.origin, self.btf)

    def but(self, **changes: Any) -> Reg:
        """A copy of this register with ``changes`` (registers in a state are never
        changed in place: copies of a state share them)."""
        new = self.copy()
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    @property
    def maybe_null(self) -> bool:
        return self.type.endswith((OR_NULL, BTF_OR_NULL))

    @property
    def is_pointer(self) -> bool:
        return self.type not in (NOT_INIT, SCALAR)

    def key(self) -> tuple:
        return (self.type, self.var, self.off, self.id, self.ref, self.map, self.range, self.size, self.frame,
                self.btf)

    def contains(self, other: Reg, idmap: dict[int, int]) -> bool:
        """Everything ``other`` may be, this may be too (pruning); ``idmap`` pairs this
        state's ids with the other's, which must correspond one to one."""
        if self.type == NOT_INIT:
            return True
        if self.type != other.type or not self.var.contains(other.var):
            return False
        if self.id and idmap.setdefault(self.id, other.id) != other.id:
            return False
        if self.ref and idmap.setdefault(-self.ref, -other.ref) != -other.ref:
            return False
        if self.type == SCALAR:
            return True
        return (self.off == other.off and self.map == other.map and self.size == other.size and self.btf == other.btf
                and self.frame == other.frame and other.range >= self.range and (self.id == 0) == (other.id == 0))

    def describe(self) -> str:
        """The kernel's log form of the register."""
        if self.type == SCALAR:
            return self.var.describe() if self.var.is_const else f"scalar({self.var.describe()})"
        if self.type == NOT_INIT:
            return "?"
        parts = []
        if self.id:
            parts.append(f"id={self.id}")
        if self.ref:
            parts.append(f"ref_obj_id={self.ref}")
        if self.map is not None:
            parts.append(f"map={self.map.name},ks={self.map.key_size},vs={self.map.value_size}")
        if self.off:
            parts.append(f"off={self.off}")
        if self.type in PACKETS:
            parts.append(f"r={self.range}")
        if self.size:
            parts.append(f"sz={self.size}")
        if not self.var.is_const or self.var.value:
            parts.append(self.var.describe())
        name = self.btf.name if self.btf is not None else ""
        return f"{self.type}{name}({','.join(parts)})"


def scalar(value: sc.Scalar = sc.UNKNOWN) -> Reg:
    return Reg(SCALAR, value)


@lru_cache(maxsize=4096)
def constant(value: int) -> Reg:
    """The scalar register that is ``value`` (one object per value: registers are never
    changed in place)."""
    return Reg(SCALAR, sc.const(value))


#: stack byte kinds: invalid, misc (some scalar), zero, spilled register, part of a dynptr
#: (a ``struct bpf_dynptr`` takes two slots, each holding a DYNPTR register with its reference)
INVALID, MISC, ZERO, SPILL, DYNPTR = "?", "m", "0", "r", "d"


class Slot:
    """One 8-byte stack slot: a kind per byte and the register spilled there. Like
    registers, slots in a state are shared by its copies: a changed slot is a new one."""

    __slots__ = ("kinds", "spilled")

    def __init__(self, kinds: str = INVALID * 8, spilled: Reg | None = None):
        self.kinds, self.spilled = kinds, spilled

    def key(self) -> tuple:
        return (self.kinds, self.spilled.key() if self.spilled is not None else None)


@dataclass
class Frame:
    """One function's registers and stack; ``callsite`` is the call instruction's index."""

    regs: list[Reg]
    stack: dict[int, Slot] = field(default_factory=dict)
    callsite: int = -1
    subprog: int = 0
    #: a callback's frame (its r0 must be 0 or 1; its exit returns to the helper's call)
    callback: bool = False
    #: how many times this frame's bpf_loop callback was verified in a row (the kernel's
    #: callback_depth, compared with the loop count)
    callback_depth: int = 0
    #: a timer's callback, verified on its own (its r0 must be 0; it returns to no one)
    async_callback: bool = False

    def copy(self) -> Frame:
        """A copy sharing the registers and slots (which are never changed in place)."""
        return Frame(self.regs[:], self.stack.copy(), self.callsite, self.subprog, self.callback,
                     self.callback_depth, self.async_callback)


@dataclass
class State:
    """The whole abstract state of one path."""

    frames: list[Frame]
    #: acquired reference id → the instruction that acquired it
    refs: dict[int, int] = field(default_factory=dict)
    #: the snapshot this path descends from (pruning bookkeeping)
    parent: Any = None
    #: how many ``may_goto`` fall-throughs this path took (the kernel's may_goto_depth)
    may_goto_depth: int = 0
    #: the ``bpf_spin_lock`` held: (map id, id of the map value pointer locked through)
    lock: tuple[int, int] | None = None

    def copy(self) -> State:
        return State([f.copy() for f in self.frames], dict(self.refs), self.parent, self.may_goto_depth, self.lock)

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def regs(self) -> list[Reg]:
        return self.frames[-1].regs

    def all_regs(self):
        """Every register and spilled register of every frame."""
        for frame in self.frames:
            yield from frame.regs
            for slot in frame.stack.values():
                if slot.spilled is not None:
                    yield slot.spilled

    def update(self, change: Callable[[Reg], Reg | None]) -> None:
        """Put ``change(reg)`` in the place of every register and spilled register for
        which it is not None (a NULL check, a range check or a release reaching every
        copy of a pointer)."""
        for frame in self.frames:
            regs = frame.regs
            for n, reg in enumerate(regs):
                new = change(reg)
                if new is not None:
                    regs[n] = new
            stack = frame.stack
            for index, slot in stack.items():
                if slot.spilled is not None:
                    new = change(slot.spilled)
                    if new is not None:
                        stack[index] = Slot(slot.kinds, new)

    def key(self, live: tuple[int, ...]) -> tuple:
        """The state's identity for loop detection: registers of each frame that are live
        (``live``: one mask per frame), stack slots, and references."""
        return (tuple((tuple(r.key() if mask >> n & 1 else None for n, r in enumerate(f.regs)),
                       tuple(sorted((k, v.key()) for k, v in f.stack.items())), f.callsite)
                      for f, mask in zip(self.frames, live)), tuple(sorted(self.refs)), self.may_goto_depth,
                self.lock)

    def contains(self, other: State, live: tuple[int, ...]) -> bool:
        """Every execution ``other`` describes, this state describes too: ``other`` can be
        pruned when this one was verified safe. Registers not in ``live`` (one mask per
        frame) are never read again and do not count."""
        if (len(self.frames) != len(other.frames) or len(self.refs) != len(other.refs)
                or (self.lock is None) != (other.lock is None)):
            return False
        idmap: dict[int, int] = {}
        if self.lock is not None and other.lock is not None:      # the same lock, ids corresponding
            if self.lock[0] != other.lock[0]:
                return False
            idmap[self.lock[1]] = other.lock[1]
        for mine, theirs, mask in zip(self.frames, other.frames, live):
            if mine.callsite != theirs.callsite:
                return False
            # a register or slot both states share contains itself (unless it has ids to pair)
            if not all((a is b and not a.id and not a.ref) or a.contains(b, idmap)
                       for n, (a, b) in enumerate(zip(mine.regs, theirs.regs)) if mask >> n & 1):
                return False
            for index, slot in mine.stack.items():
                other_slot = theirs.stack.get(index)
                if other_slot is slot and (slot.spilled is None or not (slot.spilled.id or slot.spilled.ref)):
                    continue
                for i, kind in enumerate(slot.kinds):
                    their = other_slot.kinds[i] if other_slot is not None else INVALID
                    if not _byte_contains(kind, their, slot, other_slot, idmap):
                        return False
            for index, other_slot in theirs.stack.items():    # bytes this state never wrote
                if index not in mine.stack and (SPILL in other_slot.kinds and other_slot.spilled.is_pointer):
                    return False
        return True


def _byte_contains(kind: str, their: str, slot: Slot, other_slot: Slot | None, idmap: dict[int, int]) -> bool:
    """A stack byte of kind ``kind`` covers every value of a byte of kind ``their``: a
    spill only the same spill (or a narrower one), zero only zero, and an unknown byte
    any byte that reads as a number (never a spilled pointer)."""
    if kind in (SPILL, DYNPTR):
        return (their == kind and slot.kinds.count(kind) == other_slot.kinds.count(kind)
                and slot.spilled.contains(other_slot.spilled, idmap))
    if kind == ZERO:
        return their == ZERO
    return their in (MISC, ZERO, INVALID) or (their == SPILL and other_slot.spilled.type == SCALAR)
