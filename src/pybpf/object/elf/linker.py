"""Turning the code sections of a BPF object into self-contained programs.

Every function in a code section other than ``.text`` is a program. A program's
instructions are its function's, followed by every subprogram it calls (directly, or
through ``bpf_loop``-style callbacks loaded with ``lddw``), each appended once and the
call offsets rewritten for the new layout — as libbpf links them. ``lddw``
instructions whose relocation names a map become map references; those naming global
data become references to the data section's array map with the variable's offset
(``PSEUDO_MAP_VALUE``).
"""

from __future__ import annotations

from pybpf.isa import Instruction, InvalidInstruction, decode
from pybpf.isa import opcodes as o
from pybpf.isa.helpers import POISON_HELPER
from pybpf.object.elf.externs import KCONFIG, Externs, ksym_btf_id
from pybpf.object.elf.reader import ElfObject, ObjectError, Relocation, Symbol

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field

    from pybpf.object.core import Relocated
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

R_BPF_64_64 = 1      # lddw of a map, a variable or a function
R_BPF_64_ABS64 = 2   # data words (debug info, BTF): not code
R_BPF_64_ABS32 = 3
R_BPF_64_32 = 10     # pc-relative call of a subprogram


@dataclass
class Function:
    """One function of a code section, decoded, with its relocations by instruction."""

    name: str
    section: str
    start: int                      # byte offset in its section
    instructions: list[Instruction]
    relocations: dict[int, Relocation] = field(default_factory=dict)  # instruction index → relocation
    #: CO-RE relocations applied to it (indexes local to the function)
    core: list[Relocated] = field(default_factory=list)


@dataclass
class LinkedProgram:
    """A program's instructions with what still needs an engine: map references."""

    function: Function
    instructions: list[Instruction]
    maps: dict[int, str]                       # lddw index → map symbol name
    data: dict[int, tuple[str, int]]           # lddw index → (data section, offset)
    subprograms: list[str]
    #: each function placed: (function, its first slot, its first instruction index)
    layout: list[tuple[Function, int, int]] = field(default_factory=list)


def functions(obj: ElfObject) -> dict[tuple[int, int], Function]:
    """Every function of every code section, keyed by (section index, byte offset)."""
    found: dict[tuple[int, int], Function] = {}
    for section in obj.sections.values():
        if not section.executable or not section.size:
            continue
        if section.size % 8:
            raise ObjectError(f"{obj.path}: code section {section.name!r} is {section.size} bytes, not a whole "
                              "number of 8-byte instructions")
        symbols = [s for s in obj.symbols_in(section.index, "STT_FUNC")]
        if not symbols:
            raise ObjectError(f"{obj.path}: code section {section.name!r} has no function symbols")
        for sym in symbols:
            found[(section.index, sym.value)] = _decode_function(obj, section.name, section.data, sym)
        for rel in section.relocations:
            owner = next((f for (i, start), f in found.items()
                          if i == section.index and start <= rel.offset < start + 8 * _slots(f)), None)
            if owner is None:
                raise ObjectError(f"{obj.path}: relocation at {section.name}+0x{rel.offset:x} is in no function")
            index = _index_of_slot(owner, (rel.offset - owner.start) // 8)
            if index is None:
                raise ObjectError(f"{obj.path}: relocation at {section.name}+0x{rel.offset:x} points into "
                                  "the middle of an instruction")
            owner.relocations[index] = rel
    return found


def _decode_function(obj: ElfObject, section: str, data: bytes, sym: Symbol) -> Function:
    size = sym.size or len(data) - sym.value
    if sym.value % 8 or size % 8 or sym.value + size > len(data):
        raise ObjectError(f"{obj.path}: function {sym.name!r} at {section}+0x{sym.value:x} ({size} bytes) "
                          "is not a whole number of instructions inside its section")
    try:
        instructions = decode(data[sym.value:sym.value + size])
    except InvalidInstruction as exc:
        raise ObjectError(f"{obj.path}: function {sym.name!r} in {section}: {exc}") from None
    return Function(sym.name, section, sym.value, instructions)


def _slots(function: Function) -> int:
    return sum(ins.slots for ins in function.instructions)


def _index_of_slot(function: Function, slot: int) -> int | None:
    position = 0
    for index, ins in enumerate(function.instructions):
        if position == slot:
            return index
        position += ins.slots
    return None


def link(obj: ElfObject, entry: Function, table: dict[tuple[int, int], Function],
         externs: Externs | None = None) -> LinkedProgram:
    """Lay out ``entry`` and the subprograms it reaches; resolve calls, collect references
    (``externs``: the object's __kconfig and __ksym declarations)."""
    layout: list[Function] = [entry]
    placed: dict[int, int] = {id(entry): 0}   # function → first slot in the program
    instructions: list[Instruction] = []
    maps: dict[int, str] = {}
    data: dict[int, tuple[str, int]] = {}
    pending_calls: list[tuple[int, int, Function]] = []   # (instruction index, slot, callee)
    placements: list[tuple[Function, int, int]] = []
    slot = 0
    position = 0
    while position < len(layout):
        function = layout[position]
        position += 1
        placed[id(function)] = slot
        placements.append((function, slot, len(instructions)))
        for local, ins in enumerate(function.instructions):
            rel = function.relocations.get(local)
            index = len(instructions)
            if rel is not None:
                ins, callee = _apply(obj, function, ins, rel, index, maps, data, table, externs)
                if callee is not None:
                    if id(callee) not in {id(f) for f in layout}:
                        layout.append(callee)
                    pending_calls.append((index, slot, callee))
            elif ins.opcode == o.JMP | o.CALL and ins.src == o.CALL_PSEUDO:
                # a call within the same section that clang resolved itself: imm is already relative
                target = _local_call_target(obj, function, local, ins, table)
                if id(target) not in {id(f) for f in layout}:
                    layout.append(target)
                pending_calls.append((index, slot, target))
            instructions.append(ins)
            slot += ins.slots
    for index, at, callee in pending_calls:
        # both calls and lddw of a callback count from the slot after the first one
        relative = placed[id(callee)] - (at + 1)
        ins = instructions[index]
        instructions[index] = ins.replace(imm=relative & 0xFFFF_FFFF if ins.is_lddw else relative)
    return LinkedProgram(entry, instructions, maps, data, [f.name for f in layout[1:]], placements)


def _symbol_name(obj: ElfObject, sym: Symbol) -> str:
    return obj.sections[sym.section].name if sym.type == "STT_SECTION" and sym.section >= 0 else sym.name


def _apply(obj: ElfObject, function: Function, ins: Instruction, rel: Relocation, index: int,
           maps: dict[int, str], data: dict[int, tuple[str, int]],
           table: dict[tuple[int, int], Function], externs: Externs | None) -> tuple[Instruction, Function | None]:
    """Resolve one relocated instruction; returns it and, for calls, the callee."""
    sym = rel.symbol
    where = f"{obj.path}: {function.section}:{function.name}, instruction {index}"
    if sym.section < 0:
        return _extern(ins, sym, index, data, externs, where), None
    target_section = obj.sections[sym.section]
    if rel.type == R_BPF_64_32 and ins.opcode == o.JMP | o.CALL:
        byte = sym.value + (ins.imm + 1) * 8 if sym.type == "STT_SECTION" else sym.value
        return ins, _function_at(obj, sym.section, byte, where, table)
    if rel.type != R_BPF_64_64 or not ins.is_lddw:
        raise ObjectError(f"{where}: unexpected relocation type {rel.type} on opcode 0x{ins.opcode:02x}")
    if target_section.executable:  # a callback: lddw of a function's address
        byte = sym.value + (ins.imm & 0xFFFF_FFFF if sym.type == "STT_SECTION" else 0)
        return ins.replace(src=o.PSEUDO_FUNC), _function_at(obj, sym.section, byte, where, table)
    if target_section.name in ("maps", ".maps"):
        if sym.type == "STT_SECTION":
            raise ObjectError(f"{where}: refers to section {target_section.name} without naming a map")
        maps[index] = sym.name
        return ins, None
    offset = (sym.value if sym.type != "STT_SECTION" else 0) + (ins.imm & 0xFFFF_FFFF)
    if offset >= max(target_section.size, 1):
        raise ObjectError(f"{where}: refers to {_symbol_name(obj, sym)!r}+{offset}, past the end of "
                          f"{target_section.name} ({target_section.size} bytes)")
    data[index] = (target_section.name, offset)
    return ins.replace(src=o.PSEUDO_MAP_VALUE, imm=offset << 32), None


def _extern(ins: Instruction, sym: Symbol, index: int, data: dict[int, tuple[str, int]],
            externs: Externs | None, where: str) -> Instruction:
    """An instruction referring to an extern: a __kconfig variable becomes a load of its
    place in the .kconfig map; a __ksym variable or kfunc, its id in the kernel's BTF."""
    weak = sym.bind == "STB_WEAK"
    if externs is not None and externs.is_kconfig(sym.name) and ins.is_lddw:
        offset = externs.kconfig[sym.name].offset + (ins.imm & 0xFFFF_FFFF)
        data[index] = (KCONFIG, offset)
        return ins.replace(src=o.PSEUDO_MAP_VALUE, imm=offset << 32)
    if externs is not None and sym.name in externs.ksyms:
        if ins.opcode == o.JMP | o.CALL:
            found = ksym_btf_id(sym.name, True, weak, where)
            # a weak kfunc the kernel lacks: a call the verifier refuses only if reachable
            return ins.replace(src=o.CALL_KFUNC, imm=found, off=0) if found else \
                ins.replace(src=o.CALL_HELPER, imm=POISON_HELPER)
        if ins.is_lddw:
            found = ksym_btf_id(sym.name, False, weak, where)
            return ins.replace(src=o.PSEUDO_BTF_ID, imm=found) if found else ins.replace(src=0, imm=0)
    raise ObjectError(f"{where}: refers to {sym.name!r}, which this object does not define "
                      "(an extern must be declared __kconfig or __ksym)")


def _function_at(obj: ElfObject, section: int, byte: int, where: str,
                 table: dict[tuple[int, int], Function]) -> Function:
    function = table.get((section, byte))
    if function is None:
        raise ObjectError(f"{where}: calls {obj.sections[section].name}+0x{byte:x}, where no function starts")
    return function


def _local_call_target(obj: ElfObject, function: Function, local: int, ins: Instruction,
                       table: dict[tuple[int, int], Function]) -> Function:
    section = next(i for i, s in obj.sections.items() if s.name == function.section)
    slot_after = sum(i.slots for i in function.instructions[:local + 1])
    byte = function.start + (slot_after + ins.imm) * 8
    return _function_at(obj, section, byte, f"{obj.path}: {function.section}:{function.name}, instruction {local}",
                        table)
