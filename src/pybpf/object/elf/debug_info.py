"""An object's BTF and ``.BTF.ext`` turned into what each program carries.

- the ``.BTF`` blob, fixed up for the kernel (:mod:`.btf_fixup`), shared by every
  program and map of the object;
- per program, func_info and line_info with instruction offsets in that program's slots:
  the records of each function are moved to where the linker placed the function, so a
  program that calls ``.text`` subprograms has one func_info per subprogram and line info
  for all of them;
- CO-RE relocations applied to each function before linking (:mod:`pybpf.object.core`).
"""

from __future__ import annotations

import struct

from pybpf.btf.errors import BTFError
from pybpf.object.elf.linker import Function, LinkedProgram
from pybpf.object.elf.reader import ElfObject, ObjectError
from pybpf.object.programs import BTFInfo

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, replace
    from pathlib import Path

    from pybpf.btf import BTF
    from pybpf.object.btf_ext import BTFExt
    from pybpf.object.core import Relocated
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, replace


@dataclass
class ObjectBTF:
    """The object's parsed BTF (``local``), the fixed blob the kernel gets, and the
    parsed ``.BTF.ext`` (None when the object has none)."""

    local: BTF
    blob: bytes
    ext: BTFExt | None


def read_btf(obj: ElfObject) -> ObjectBTF | None:
    """The object's BTF, or None for an object compiled without ``-g``."""
    section = obj.section(".BTF")
    if section is None:
        return None
    # (the BTF reader, the cycle check and the .BTF.ext reader for objects with BTF only)
    from pybpf.btf.check import check_acyclic
    from pybpf.btf.parse import BTF
    from pybpf.object.btf_ext import parse_btf_ext
    from pybpf.object.elf.btf_fixup import fix_btf

    try:
        local = BTF.parse(section.data)
        check_acyclic(local)
        blob = fix_btf(obj, section.data)
    except BTFError as exc:
        raise ObjectError(f"{obj.path}: .BTF: {exc}") from None
    ext_section = obj.section(".BTF.ext")
    ext = None
    if ext_section is not None:
        try:
            ext = parse_btf_ext(ext_section.data, local.strings)
        except BTFError as exc:
            raise ObjectError(f"{obj.path}: .BTF.ext: {exc}") from None
    return ObjectBTF(local, blob, ext)


def apply_core(obj: ElfObject, table: dict[tuple[int, int], Function], btf: ObjectBTF,
               core_btf: BTF | str | Path | None) -> None:
    """Apply every CO-RE relocation of the object to its functions, against
    ``core_btf`` (the running kernel's BTF when None). Nothing is read when the object
    has no relocations."""
    if btf.ext is None or not any(btf.ext.core_relos.values()):
        return
    from pybpf.object.core import CoreError, relocate, target_btf  # (CO-RE: ~2.5 ms, for objects that use it)

    try:
        target = target_btf(core_btf)
    except (CoreError, BTFError) as exc:
        raise ObjectError(f"{obj.path}: {exc}") from None
    sections = {s.name: i for i, s in obj.sections.items()}
    for section_name, records in btf.ext.core_relos.items():
        index = sections.get(section_name)
        if index is None:
            raise ObjectError(f"{obj.path}: .BTF.ext has CO-RE relocations for section {section_name!r}, "
                              "which the object does not have")
        by_function: dict[int, list] = {}
        for relo in records:
            function = _function_at(table, index, relo.insn_off)
            local = _local_index(function, relo.insn_off) if function is not None else None
            if function is None or local is None:
                raise ObjectError(f"{obj.path}: CO-RE relocation at {section_name}+0x{relo.insn_off:x} is not at "
                                  "the start of an instruction of any function")
            by_function.setdefault(id(function), [function]).append((local, relo))
        for function, *pairs in by_function.values():
            try:
                code, done, moved = relocate(function.instructions, pairs, btf.local, target)
            except CoreError as exc:
                raise ObjectError(f"{obj.path}: {section_name}:{function.name}: {exc}") from None
            function.instructions = code
            function.relocations = {moved[i]: rel for i, rel in function.relocations.items()}
            function.core = done


def _function_at(table: dict[tuple[int, int], Function], section: int, byte: int) -> Function | None:
    for (index, start), function in table.items():
        if index == section and start <= byte < start + 8 * sum(i.slots for i in function.instructions):
            return function
    return None


def _local_index(function: Function, byte: int) -> int | None:
    slot = (byte - function.start) // 8
    position = 0
    for index, ins in enumerate(function.instructions):
        if position == slot and (byte - function.start) % 8 == 0:
            return index
        position += ins.slots
    return None


def program_btf(btf: ObjectBTF, linked: LinkedProgram) -> BTFInfo:
    """The BTF, func_info and line_info of one linked program (offsets in its slots)."""
    if btf.ext is None:
        return BTFInfo(btf.blob)
    func_info, line_info = [], []
    for function, first_slot, _first_index in linked.layout:
        end = function.start + 8 * sum(i.slots for i in function.instructions)
        for record in btf.ext.func_info.get(function.section, ()):
            if record.insn_off == function.start:
                func_info.append(struct.pack("<II", first_slot, record.type_id))
        for line in btf.ext.line_info.get(function.section, ()):
            if function.start <= line.insn_off < end:
                slot = first_slot + (line.insn_off - function.start) // 8
                line_info.append(struct.pack("<IIII", slot, line.file_name_off, line.line_off, line.line_col))
    if len(func_info) != len(linked.layout):
        func_info = []   # the kernel wants all functions described or none
    return BTFInfo(btf.blob, b"".join(func_info), 8, b"".join(line_info), 16)


def program_core(linked: LinkedProgram) -> list[Relocated]:
    """The CO-RE relocations of a program's functions, at their indexes in the program."""
    return [replace(r, index=first_index + r.index)
            for function, _slot, first_index in linked.layout for r in function.core]
