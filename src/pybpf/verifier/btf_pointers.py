"""Pointers typed by the kernel's BTF: a tracing program's context, and the kernel
objects it reaches through it (the kernel's ``btf_ctx_access`` and ``btf_struct_access``).

A BTF tracepoint (``tp_btf/NAME``), an fentry/fexit/fmod_ret program, an LSM hook and an
iterator each attach to one kernel function whose prototype the kernel's BTF holds; the
program's context is that function's arguments as an array of u64 (an fexit program's
return value after them). Reading an argument that is a pointer to a struct yields a
pointer the verifier knows the type of (PTR_TO_BTF_ID); loads through it are checked
against the struct's layout — a pointer member gives another such pointer, any other
member a number — and the program may not write through it.
"""

from __future__ import annotations

import errno
import os
from functools import cache

from pybpf.btf.types import Kind, Type
from pybpf.object import AttachType, ProgramType
from pybpf.verifier import scalar as sc
from pybpf.verifier import state as s
from pybpf.verifier.program import Refused
from pybpf.verifier.tracepoint_args import ARGS

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field

    from pybpf.btf import BTF
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

VMLINUX = "/sys/kernel/btf/vmlinux"
#: MAX_BPF_FUNC_ARGS: the context of a tracing program holds at most this many u64
MAX_ARGS = 12
_MODIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)
_COMPOSITE = (Kind.STRUCT, Kind.UNION)

#: the kernel's lists of pointer members it trusts further when read through a trusted
#: or RCU-protected pointer: BTF structs named ``<struct>__safe_<suffix>`` whose members
#: name them; in the order the kernel looks, with the kind of pointer the read yields
_SAFE_LISTS = (("__safe_trusted", s.TRUSTED_PTR), ("__safe_trusted_or_null", s.nullable(s.TRUSTED_PTR)),
               ("__safe_rcu", s.RCU_PTR), ("__safe_rcu_or_null", s.nullable(s.RCU_PTR)))


@cache
def _kernel_btf(path: str, mtime: float) -> BTF:
    from pybpf.btf.parse import BTF  # (the BTF reader only for programs typed by it)

    return BTF.load(path)


def kernel_btf(path: str = VMLINUX) -> BTF:
    """The running kernel's BTF (read once while the file is unchanged); refused with
    ENOENT, as the kernel cannot load a BTF-attached program without it, when absent."""
    from pybpf.btf.parse import BTFError

    try:
        return _kernel_btf(path, os.stat(path).st_mtime)
    except (OSError, BTFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise Refused(f"the kernel's BTF ({path}) is needed to verify this program: {reason}", None,
                      errno=errno.ENOENT) from None


def kind_name(t: Type) -> str:
    """The kernel's ``btf_type_str``: the kind's name, UNKNOWN for void."""
    return "UNKNOWN" if t.kind == Kind.VOID else t.kind.name


def _name(t: Type) -> str:
    return t.name or "(anon)"


def skip_modifiers(btf: BTF, type_id: int) -> tuple[int, Type]:
    """(id, type) behind typedefs, const/volatile/restrict and type tags."""
    t = btf[type_id]
    for _ in range(len(btf)):
        if t.kind not in _MODIFIERS:
            return type_id, t
        type_id, t = t.ref, btf[t.ref]
    from pybpf.btf.parse import BTFError

    raise BTFError(f"type {type_id} refers to itself through modifiers")


@dataclass(frozen=True)
class Target:
    """The kernel function a tracing program attaches to: its name as the kernel's
    messages give it, its prototype's argument types and return type (0: void), and how
    the program attaches."""

    name: str
    attach: AttachType
    prototype: tuple[int, ...]
    ret: int
    btf: BTF = field(compare=False, repr=False)
    #: the program's own arguments are trusted (BTF tracepoints, iterators, LSM hooks)
    trusted: bool = False
    #: leading prototype arguments the program does not see (a BTF tracepoint's ``void *``)
    hidden: int = 0
    #: the prototype's argument names
    names: tuple[str, ...] = ()

    @property
    def params(self) -> tuple[int, ...]:
        """The argument types the program's context holds."""
        return self.prototype[self.hidden:]


def find_target(btf: BTF, kind: ProgramType, attach: AttachType | None, attach_to: str) -> Target:
    """The attach target of a tracing or LSM program, from the kernel's BTF; refused as
    the kernel refuses a program whose target is missing (ENOENT) or unnamed (EINVAL)."""
    target = attach_to.rpartition("/")[2]
    if attach is None or not target:
        raise Refused("Tracing programs must provide btf_id", None, errno=errno.EINVAL)
    if attach == AttachType.TRACE_RAW_TP:
        name, wanted = f"btf_trace_{target}", Kind.TYPEDEF
    elif attach == AttachType.TRACE_ITER:
        name, wanted = f"bpf_iter_{target}", Kind.FUNC
    elif kind == ProgramType.LSM:
        name, wanted = f"bpf_lsm_{target}", Kind.FUNC
    else:
        name, wanted = target, Kind.FUNC
    found = btf.find(name, wanted)
    if found is None:
        raise Refused(f"the kernel's BTF has no {wanted.name.lower()} {name}", None,
                      f"{attach_to!r} is not a {'tracepoint' if wanted == Kind.TYPEDEF else 'function'} "
                      "of the running kernel", errno=errno.ENOENT)
    proto = btf.resolve(found.ref)
    if wanted == Kind.TYPEDEF:         # btf_trace_NAME: a pointer to the prototype
        proto = btf.resolve(proto.ref) if proto.kind == Kind.PTR else proto
    if proto.kind != Kind.FUNC_PROTO:
        raise Refused(f"attach_btf_id {found.id} points to {kind_name(proto)}, not a function prototype", None,
                      errno=errno.EINVAL)
    trusted = attach in (AttachType.TRACE_RAW_TP, AttachType.TRACE_ITER) or kind == ProgramType.LSM
    hidden = 1 if wanted == Kind.TYPEDEF else 0
    return Target(target if hidden else name, attach, tuple(m.type for m in proto.members), proto.ref, btf, trusted,
                  hidden, tuple(m.name for m in proto.members))


def slot_size(btf: BTF, type_id: int) -> int:
    """How many bytes a value takes in the context: 8 for a pointer, else its size
    rounded up to 8 (a struct passed by value may take two; void takes none)."""
    _, t = skip_modifiers(btf, type_id)
    if t.kind == Kind.PTR:
        return 8
    return 0 if t.kind == Kind.VOID else -(-btf.sizeof(type_id) // 8) * 8


def _arg_index(target: Target, off: int) -> int:
    """The kernel's ``btf_ctx_arg_idx``: which argument of the whole prototype byte
    ``off`` of the context is in (past the return value: one more than there are
    arguments)."""
    end = 0
    for index, type_id in enumerate(target.prototype + (target.ret,)):
        end += slot_size(target.btf, type_id)
        if off < end:
            return index
    return len(target.prototype) + 1


def context_read(verifier, target: Target, off: int, size: int, write: bool) -> s.Reg:
    """The register a ``size``-byte read at ``off`` of a tracing program's context
    yields; refused with the kernel's messages (its reason, then ``invalid
    bpf_context access``) for a write, a misaligned read or one past the arguments."""
    refused = f"invalid bpf_context access off={off} size={size}"

    def fail(reason: str = "") -> Refused:
        return Refused(f"{reason}\n{refused}" if reason else refused, verifier.index,
                       reason or f"the context of a program attached to {target.name} is its arguments, read "
                                 "whole or in aligned parts")
    if off < 0 or off >= 8 * MAX_ARGS or write or off % size:
        raise fail()
    btf, tname = target.btf, target.name
    if off % 8:
        raise fail(f"func '{tname}' offset {off} is not multiple of 8")
    arg = _arg_index(target, off)
    count = len(target.params)
    if arg > count:
        raise fail(f"func '{tname}' doesn't have {arg + 1}-th argument")
    if arg == count:
        if target.attach == AttachType.MODIFY_RETURN:
            _, ret = skip_modifiers(btf, target.ret)
            if not (ret.kind == Kind.INT and ret.size <= 8):
                raise fail(f"ret type {kind_name(ret)} not allowed for fmod_ret")
        elif target.attach not in (AttachType.TRACE_FEXIT, AttachType.LSM_MAC, AttachType.LSM_CGROUP):
            raise fail(f"func '{tname}' doesn't have {arg + 1}-th argument")
        type_id = target.ret
    else:
        type_id = target.params[arg]
    type_id, t = skip_modifiers(btf, type_id)
    if (t.kind == Kind.INT and t.size <= 8) or t.kind in (Kind.ENUM, Kind.ENUM64) or t.kind in _COMPOSITE:
        return _number(size)
    if t.kind != Kind.PTR:
        raise fail(f"func '{tname}' arg{arg} '{t.name}' has type {kind_name(t)}. Only pointer access is allowed")
    if size != 8:
        raise fail(f"func '{tname}' size {size} must be 8")
    pointee_id, pointee = skip_modifiers(btf, t.ref)
    iterator = target.attach == AttachType.TRACE_ITER
    if pointee.kind == Kind.VOID and iterator:      # a map element's key or value, or NULL at the end
        kind = s.RDONLY_BUF if target.names[arg + target.hidden] == "key" else s.BUF
        return s.Reg(s.nullable(kind), sc.const(0), id=verifier.new_id(), origin=verifier.index)
    if pointee.kind not in _COMPOSITE:      # void *, char *, pointers to pointers: numbers
        return _number(size)
    if verifier.log_level:
        verifier.result.log.append(f"func '{tname}' arg{arg} has btf_id {pointee_id} type {kind_name(pointee)} "
                                   f"'{pointee.name}'")
    kind = s.TRUSTED_PTR if target.trusted else s.BTF_PTR
    # a BTF tracepoint's argument the kernel's table of exceptions names (see
    # tracepoint_args): maybe NULL, maybe an error pointer (a number), or untrusted
    special = ARGS.get(tname, {}).get(arg) if target.attach == AttachType.TRACE_RAW_TP else None
    if special == s.SCALAR:
        if verifier.log_level:
            verifier.result.log.append(f"marking pointer arg{arg} as scalar as it may encode error")
        return s.scalar()
    if special == s.UNTRUSTED_PTR:
        kind = s.UNTRUSTED_PTR
    # an iterator's object (an argument after its bpf_iter_meta) is NULL at the end; the
    # map whose elements an iterator walks is not; an argument named ``*__nullable`` or
    # in the table may be NULL
    walked_map = pointee.name == "bpf_map" and arg + 1 < len(target.params)
    name = target.names[arg + target.hidden] if arg < count else ""       # (the return value has none)
    maybe_null = special == s.nullable(s.TRUSTED_PTR) or name.endswith("__nullable")
    if (iterator and arg > 0 and not walked_map) or maybe_null:
        return s.Reg(s.nullable(kind), sc.const(0), id=verifier.new_id(), btf=s.KernelType(pointee_id, pointee.name),
                     origin=verifier.index)
    return s.Reg(kind, sc.const(0), btf=s.KernelType(pointee_id, pointee.name))


def _number(size: int) -> s.Reg:
    return s.scalar(sc.unsigned_range(0, (1 << (8 * size)) - 1) if size < 8 else sc.UNKNOWN)


def object_read(verifier, btf: BTF, reg: s.Reg, regno: int, off: int, size: int, write: bool) -> s.Reg:
    """The kernel's ``check_ptr_to_btf_access`` for a load or store of ``size`` bytes at
    ``off`` (the register's fixed offset included) through BTF pointer ``reg``."""

    def fail(message: str, why: str = "") -> Refused:
        return Refused(message, verifier.index, why)
    struct = reg.btf
    if struct is None:          # (every BTF pointer is made with its struct)
        raise fail(f"R{regno} invalid mem access '{reg.type}'")
    name = struct.name
    if off < 0:
        raise fail(f"R{regno} is ptr_{name} invalid negative access: off={off}")
    if not reg.var.is_const or reg.var.value:
        raise fail(f"R{regno} is ptr_{name} invalid variable offset: off={off}, var_off={reg.var.tnum}",
                   "a kernel object is read at constant offsets only")
    if write:
        raise fail("only read is supported", f"a tracing program may not write into a kernel object (struct {name})")
    found = struct_access(btf, struct.id, off, size)
    if isinstance(found, str):
        raise fail(found, f"struct {name} has no field of {size} bytes at offset {off}")
    if found.kind == "scalar":
        return _number(size)
    if found.kind == "mem":
        return s.Reg(s.UNTRUSTED_MEM, sc.const(0))
    pointee_id = found.type_id
    # through a trusted or RCU pointer: what the kernel's safe lists say, else untrusted;
    # an untrusted pointer stays so, a plain one (the old way, still allowed) stays plain
    if found.untrusted:
        kind = s.UNTRUSTED_PTR
    elif reg.type in (s.TRUSTED_PTR, s.RCU_PTR):
        kind = _safe_kind(btf, struct, found.member, pointee_id)
    else:
        kind = reg.type
    pointee = s.KernelType(pointee_id, btf[pointee_id].name)
    if kind.endswith(s.BTF_OR_NULL):
        return s.Reg(kind, sc.const(0), id=verifier.new_id(), btf=pointee, origin=verifier.index)
    return s.Reg(kind, sc.const(0), btf=pointee)


def _safe_kind(btf: BTF, struct: s.KernelType, member: str, pointee_id: int) -> str:
    """The kernel's ``btf_nested_type_is_trusted``: whether the struct's safe lists name
    ``member`` with this pointee, and so what the read yields."""
    for suffix, kind in _SAFE_LISTS:
        safe = btf.find(struct.name + suffix, btf[struct.id].kind)
        for field_ in safe.members if safe is not None else ():
            if field_.name == member and btf.resolve(field_.type).kind == Kind.PTR and \
                    skip_modifiers(btf, btf.resolve(field_.type).ref)[0] == pointee_id:
                return kind
    return s.UNTRUSTED_PTR


@dataclass(frozen=True)
class Field:
    """What a read through a BTF pointer reaches: a number (``scalar``), a pointer to a
    struct (``ptr``: the member's name and the pointee's id) or to anything else
    (``mem``: read-only memory the kernel does not vouch for), or a struct nested at
    the offset (``struct``, while walking). ``untrusted``: the walk went through a union
    of several members, so a pointer read there is not trusted."""

    kind: str
    member: str = ""
    type_id: int = 0
    untrusted: bool = False


def struct_access(btf: BTF, struct_id: int, off: int, size: int) -> Field | str:
    """The kernel's ``btf_struct_access`` for a read of ``size`` bytes at ``off`` of
    struct ``struct_id``: the :class:`Field` it reaches, or the kernel's message why the
    read is refused. Nested structs at the same offset are walked into."""
    type_id, untrusted = struct_id, False
    while True:
        found = _walk(btf, type_id, off, size, untrusted)
        if isinstance(found, str) or found.kind != "struct":
            return found
        type_id, off, untrusted = found.type_id, 0, found.untrusted


def nested_struct(btf: BTF, struct_id: int, off: int, wanted: str) -> bool:
    """The kernel's ``btf_struct_ids_match``: whether struct ``wanted`` is at ``off`` of
    struct ``struct_id`` (itself at offset 0, or a struct nested there)."""
    type_id = struct_id
    while True:
        if off == 0 and btf[type_id].name == wanted:
            return True
        found = _walk(btf, type_id, off, 1, False)
        if isinstance(found, str) or found.kind != "struct":
            return False
        type_id, off = found.type_id, 0


def _resolve_member(btf: BTF, type_id: int) -> tuple[int, Type, int, int, Type, int]:
    """The kernel's ``__btf_resolve_size`` for a member's type: (id, type behind
    modifiers, total size, element count, innermost element type and its id — the type
    itself when it is no array) — arrays of arrays flattened."""
    type_id, t = skip_modifiers(btf, type_id)
    if t.kind != Kind.ARRAY:
        size = 8 if t.kind == Kind.PTR else btf.sizeof(type_id) if t.kind != Kind.VOID else 0
        return type_id, t, size, 1, t, type_id
    count, element_id, element = 1, type_id, t
    while element.kind == Kind.ARRAY:
        count *= element.nelems
        element_id, element = skip_modifiers(btf, element.element)
    element_size = 8 if element.kind == Kind.PTR else btf.sizeof(element_id)
    return type_id, t, count * element_size, count, element, element_id


def _walk(btf: BTF, type_id: int, off: int, size: int, untrusted: bool) -> Field | str:
    """One step of the kernel's ``btf_struct_walk``: the field at ``off`` (a nested
    struct that starts there is a ``struct`` field), or the message refusing the access."""
    _, t = skip_modifiers(btf, type_id)
    while True:
        tname = _name(t)
        if t.kind not in _COMPOSITE:
            return f"Type '{tname}' is not a struct"
        members = t.members
        # a union of several members may hold any of them: what is read there is not trusted
        untrusted = untrusted or (t.kind == Kind.UNION and len(members) != 1)
        if off + size > t.size:
            # a flexible array at the end may be indexed past the struct
            last = members[-1] if members else None
            if last is not None:
                _, array = skip_modifiers(btf, last.type)
                moff = last.offset // 8
                if array.kind == Kind.ARRAY and array.nelems == 0 and off >= moff:
                    _, element = skip_modifiers(btf, array.element)
                    if element.kind == Kind.INT:
                        return Field("scalar")
                    if element.kind in _COMPOSITE and element.size:
                        t, off = element, (off - moff) % element.size
                        continue
            return f"access beyond struct {tname} at off {off} size {size}"
        restart = False
        for member in members:
            moff = member.offset // 8
            if off + size <= moff:
                break
            if member.bit_size:
                end_bit = member.offset + member.bit_size
                if off <= moff and (end_bit + 7) // 8 <= off + size:
                    return Field("scalar")
                continue
            if off < moff:
                break
            mid, mtype, msize, count, element, element_id = _resolve_member(btf, member.type)
            mname = member.name or "(anon)"
            true_end = moff + msize
            if off >= true_end:
                continue
            if mtype.kind == Kind.ARRAY:
                if moff == true_end:
                    continue
                msize //= count
                moff += (off - moff) // msize * msize
                mtype, mid = element, element_id
            if mtype.kind in _COMPOSITE:
                if off == moff:
                    return Field("struct", type_id=mid, untrusted=untrusted)
                t, off, restart = mtype, off - moff, True
                break
            if mtype.kind == Kind.PTR:
                if msize != size or off != moff:
                    return (f"cannot access ptr member {mname} with moff {moff} in struct {tname} with off {off} "
                            f"size {size}")
                pointee_id, pointee = skip_modifiers(btf, mtype.ref)
                if pointee.kind in _COMPOSITE:
                    return Field("ptr", member.name, pointee_id, untrusted)
                return Field("mem")
            if off + size > true_end and not untrusted:
                return (f"access beyond the end of member {mname} (mend:{true_end}) in struct {tname} with off "
                        f"{off} size {size}")
            return Field("scalar")
        if not restart:
            return f"struct {tname} doesn't have field at offset {off}"
