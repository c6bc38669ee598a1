"""Applying a code section's CO-RE relocations to one function's instructions.

The target BTF is the running kernel's (``/sys/kernel/btf/vmlinux``) unless another is
given, read once per process — lazily, with its record index from the persistent cache
(:mod:`pybpf.btf.cache`), so only the types a relocation reaches are decoded. Each relocation is computed (:mod:`.calc`) and written
into its instruction (:mod:`.patch`); what was done is returned as :class:`Relocated`
records so a ProgramSpec can say which instructions were relocated, to what, and which
were poisoned and why.
"""

from __future__ import annotations

import os
from functools import cache

from pybpf.btf import BTF, BTFError, Kind
from pybpf.errors import PybpfError
from pybpf.isa import Instruction
from pybpf.object.btf_ext import CoreRelo
from pybpf.object.core.calc import ReloKind, calculate
from pybpf.object.core.patch import PatchError, patch, poisoned
from pybpf.object.core.spec import describe, skip_modifiers

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from pathlib import Path
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

VMLINUX = "/sys/kernel/btf/vmlinux"


class CoreError(PybpfError):
    """A CO-RE relocation record that cannot be applied at all (malformed, ambiguous, or
    on an instruction without a constant): names the instruction, the type and field."""


@dataclass(frozen=True)
class Relocated:
    """One applied relocation: instruction ``index`` (logical, in its program), what it
    reaches (``struct task_struct.pid``), its kind and the value before and after. A
    poisoned one has ``poisoned`` set to why; the instruction then fails if reached."""

    index: int
    kind: ReloKind
    what: str
    old: int
    new: int
    poisoned: str = ""


@cache
def _load(path: str, _mtime: float) -> BTF:
    return BTF.load(path)


def target_btf(source: BTF | str | Path | None = None) -> BTF:
    """The BTF relocations are computed against: ``source`` when it is one, the BTF file at
    ``source`` when it is a path, else the running kernel's (each file read once)."""
    if isinstance(source, BTF):
        return source
    path = str(source or VMLINUX)
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        hint = (" (this kernel exposes no BTF: pass core_btf= a BTF file of the kernel the program is for)"
                if source is None else "")
        raise CoreError(f"{path}: cannot read the target BTF for CO-RE relocations: {exc.strerror}{hint}") from None
    return _load(path, mtime)


def describe_access(btf: BTF, root_id: int, kind: ReloKind, access: str) -> str:
    """What a relocation reaches, spelled as C would: ``struct task_struct.pid``,
    ``struct s.a[2].b``, ``enum e::VALUE``, ``struct foo``."""
    try:
        head = describe(btf, root_id)
        if kind.enum_based:
            member = skip_modifiers(btf, root_id)[1].members[int(access)]
            return f"{head}::{member.name}"
        if not kind.field_based:
            return head
        parts = [int(p) for p in access.split(":")]
        text = head + (f"[{parts[0]}]" if parts[0] else "")
        type_id = root_id
        for index in parts[1:]:
            type_id, t = skip_modifiers(btf, type_id)
            if t.kind == Kind.ARRAY:
                text += f"[{index}]"
                type_id = t.element
            else:
                member = t.members[index]
                text += f".{member.name}" if member.name else ""
                type_id = member.type
        return text
    except (BTFError, IndexError, ValueError):
        return f"type {root_id} access {access!r}"


def relocate(instructions: list[Instruction], relocations: list[tuple[int, CoreRelo]], local: BTF,
             target: BTF) -> tuple[list[Instruction], list[Relocated], list[int]]:
    """Apply ``relocations`` (instruction index, record) to ``instructions``.

    Returns the new instructions, what was done (indexes in the new list) and, for each
    old index, its new one: a poisoned ``lddw`` becomes two one-slot calls, so the
    instructions after it move down by one.
    """
    out = list(instructions)
    done: list[tuple[int, ReloKind, str, int, int, str]] = []
    expand: set[int] = set()
    for index, relo in relocations:
        ins = out[index]
        try:
            kind = ReloKind(relo.kind)
        except ValueError:
            raise CoreError(f"instruction {index}: unknown CO-RE relocation kind {relo.kind}") from None
        what = describe_access(local, relo.type_id, kind, relo.access)
        where = f"instruction {index}: {kind.name} relocation of {what} (access {relo.access!r})"
        try:
            result = calculate(kind, local, relo.type_id, relo.access, target)
            new = patch(ins, kind, result)
        except (BTFError, PatchError) as exc:
            raise CoreError(f"{where}: {exc}") from None
        if new is None:
            reason = result.reason or (f"the field is {result.new_size} bytes in the target, {result.old_size} "
                                       "here, and a signed or non-integer field cannot be read at another size")
            done.append((index, kind, what, result.old, result.new, f"{what}: {reason}"))
            if ins.is_lddw:
                expand.add(index)
            out[index] = poisoned(ins)[0]
        else:
            done.append((index, kind, what, result.old, result.new, ""))
            out[index] = new
    new_index, position = [], 0
    final: list[Instruction] = []
    for index, ins in enumerate(out):
        new_index.append(position)
        final.append(ins)
        if index in expand:
            final.append(ins)
        position = len(final)
    records = [Relocated(new_index[i], kind, what, old, new, why) for i, kind, what, old, new, why in done]
    return final, records, new_index
