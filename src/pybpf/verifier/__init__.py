"""pybpf's verifier: the kernel's safety rules for eBPF programs, in Python.

:func:`verify` simulates every path of a program over abstract register and stack
states (:mod:`pybpf.verifier.checker`) and returns a :class:`Verdict`: accepted or not,
the kernel's message for the failing instruction, a log in the kernel's format (levels
1 and 2) and the ``processed N insns`` statistics. The vm engine runs it at every load;
``pybpf verify`` runs it from the command line.
"""

from __future__ import annotations

from collections.abc import Mapping

from pybpf.isa import Instruction
from pybpf.object import AttachType, ProgramType
from pybpf.verifier.checker import Verifier
from pybpf.verifier.program import Refused
from pybpf.verifier.state import MapInfo

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field

    from pybpf.btf import BTF
    from pybpf.object import MapSpec
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

__all__ = ["MapInfo", "Verdict", "map_info", "verify"]

#: map flags that make a map read-only to programs (BPF_F_RDONLY_PROG)
_RDONLY_PROG = 1 << 7


@dataclass
class Verdict:
    """The outcome of verifying one program."""

    accepted: bool
    #: the kernel's message for the failing instruction ('' when accepted)
    message: str
    #: the failing instruction's slot (None when accepted or not tied to one)
    slot: int | None
    #: the log, in the kernel's format, ending with the statistics line
    log: str
    processed: int
    #: beyond the kernel: why, in words (e.g. where a maybe-NULL pointer came from)
    why: str = ""
    #: the slots of instructions the explanation refers to (their C lines help)
    related: tuple[int, ...] = ()
    #: the errno the kernel's BPF_PROG_LOAD fails with for this refusal (0 when accepted)
    errno: int = 0
    #: for an accepted program: instruction index → the kinds of pointer its memory
    #: accesses use on every path (what lets the JIT drop their checks)
    accesses: dict[int, frozenset[str]] = field(default_factory=dict)


def map_info(map_id: int, spec: MapSpec) -> MapInfo:
    """What the verifier needs of a map: sizes, type, whether programs may write it."""
    readonly = bool(spec.flags & _RDONLY_PROG) or bool(spec.freeze and spec.name.endswith(".rodata"))
    frozen = spec.contents if readonly and spec.freeze and spec.contents is not None else None
    has_btf = spec.btf is not None and spec.btf_value_type_id > 0
    btf = None
    if has_btf and spec.btf:
        from pybpf.btf.parse import BTF  # (the BTF reader for maps that carry BTF only)

        btf = BTF.parse(spec.btf)
    lock, timer = ((_field_offset(btf, spec.btf_value_type_id, "bpf_spin_lock"),
                    _field_offset(btf, spec.btf_value_type_id, "bpf_timer")) if btf is not None else (None, None))
    return MapInfo(map_id, spec.type, spec.key_size, spec.value_size, spec.max_entries, readonly, spec.name, frozen,
                   has_btf, -1 if lock is None else lock, -1 if timer is None else timer)


def _field_offset(btf: BTF, type_id: int, struct: str, base: int = 0) -> int | None:
    """The byte offset of the ``struct <struct>`` (``bpf_spin_lock``, ``bpf_timer``) in
    the value type ``type_id`` (in it or a struct nested in it), as the kernel finds it
    in the map's BTF."""
    from pybpf.btf.types import Kind

    t = btf.resolve(type_id)
    if t.kind not in (Kind.STRUCT, Kind.UNION):
        return None
    for member in t.members:
        inner = btf.resolve(member.type)
        if inner.kind == Kind.STRUCT and inner.name == struct:
            return base + member.offset // 8
        if inner.kind in (Kind.STRUCT, Kind.UNION):
            found = _field_offset(btf, member.type, struct, base + member.offset // 8)
            if found is not None:
                return found
    return None


def verify(instructions: list[Instruction], kind: ProgramType | str, maps: Mapping[int, MapInfo] | None = None,
           log_level: int = 0, return_range: tuple[int, int] | None = None,
           func_info: bool = False, attach_type: AttachType | None = None, attach_to: str = "",
           btf: BTF | None = None, license: str = "GPL") -> Verdict:
    """Verify ``instructions`` as a program of type ``kind`` whose lddw map references
    hold the ids of ``maps`` (``func_info``: the program carries BTF function info).
    A tracing or LSM program attaches (``attach_type``) to ``attach_to`` (a tracepoint,
    function, hook or iterator) of the kernel whose BTF is ``btf`` (default: the running
    kernel's); its context is that target's arguments. Under a ``license`` that is not
    GPL-compatible, GPL-only helpers are refused."""
    checker = Verifier(list(instructions), kind, dict(maps or {}), log_level, return_range, func_info,
                       (attach_type, attach_to), btf, license)
    try:
        result = checker.run()
    except Refused as refused:
        result = checker.result
        slot = checker.layout.slots[refused.index] if refused.index is not None else None
        lines = list(result.log)
        if not log_level and refused.index is not None:
            from pybpf.isa.disassembler import format_instruction  # (for a refusal's log only)

            ins = checker.code[refused.index]
            lines.append(f"{slot}: ({ins.opcode:02x}) {format_instruction(ins)}")
        lines.append(refused.message)
        lines.append(result.stats())
        why, related = refused.why, ()
        origin = _origin(checker, refused)
        if origin is not None:
            origin_slot, text = origin
            why, related = why or text, (origin_slot,)
        return Verdict(False, refused.message.splitlines()[-1] if "\n" in refused.message else refused.message,
                       slot, "\n".join(lines) + "\n", result.processed, why, related, refused.errno)
    lines = list(result.log) if log_level else []
    lines.append(result.stats())
    return Verdict(True, "", None, "\n".join(lines) + "\n", result.processed,
                   accesses={i: frozenset(kinds) for i, kinds in result.accesses.items()})


def _origin(checker: Verifier, refused: Refused) -> tuple[int, str] | None:
    """For a maybe-NULL pointer used before its check: where it came from."""
    if "_or_null" not in refused.message or not refused.message.startswith("R"):
        return None
    return checker.last_origin(refused)
