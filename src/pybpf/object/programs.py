"""ProgramSpec: a program's instructions and the names it needs resolved at load.

Instructions are :class:`pybpf.isa.Instruction` values, one per logical instruction, so
``references`` keys are logical indexes (what ``isa.slot_offsets`` maps to slots). A
reference marks an ``lddw`` that names a map; each engine resolves the name to its own
handle — a file descriptor in the kernel, a map id in the vm — through :meth:`relocated`,
so both engines relocate by the same rule.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cached_property

from pybpf.errors import PybpfError
from pybpf.isa import Instruction, slot_offsets
from pybpf.isa import opcodes as o
from pybpf.object.errors import SpecError, check_name
from pybpf.object.kinds import AttachType, ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field, replace
    from typing import Any

    from pybpf.object.btf_ext import SourceLine
    from pybpf.object.core import Relocated
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field, replace


@dataclass(frozen=True)
class BTFInfo:
    """Raw BTF and the program's func/line info records (bpf_func_info, bpf_line_info).

    Kept as bytes: the kernel takes them as they are (``insn_off`` in instruction slots
    of this program). :meth:`source_line` reads line info back for error messages.
    """

    btf: bytes
    func_info: bytes = b""
    func_info_rec_size: int = 8
    line_info: bytes = b""
    line_info_rec_size: int = 16

    @cached_property
    def _lines(self) -> list[tuple[int, int, int, int]]:
        step = self.line_info_rec_size
        if step < 16:
            return []
        return sorted(struct.unpack_from("<IIII", self.line_info, at)
                      for at in range(0, len(self.line_info) - 15, step))

    def source_line(self, slot: int) -> SourceLine | None:
        """The C line instruction slot ``slot`` came from: the last line info record at
        or before it, as the kernel's verifier attributes instructions to lines."""
        found = None
        for record in self._lines:
            if record[0] > slot:
                break
            found = record
        if found is None:
            return None
        _insn, file_off, line_off, line_col = found
        from pybpf.object.btf_ext import SourceLine, btf_strings, string_at  # with BTF, for messages only

        try:
            strings = btf_strings(self.btf)
            return SourceLine(string_at(strings, file_off, "line info"), line_col >> 10, line_col & 0x3FF,
                              string_at(strings, line_off, "line info"))
        except PybpfError:
            return None


@dataclass
class ProgramSpec:
    """One program. ``references`` maps an lddw's instruction index to a map name."""

    name: str
    type: ProgramType
    instructions: list[Instruction]
    license: str = "GPL"
    expected_attach_type: AttachType | None = None
    references: dict[int, str] = field(default_factory=dict)
    btf: BTFInfo | None = None
    attach_to: str = ""
    section: str = ""
    #: the CO-RE relocations applied when the object was read (:class:`pybpf.object.core.Relocated`)
    core: list[Relocated] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            self.type = ProgramType.parse(self.type)
            if self.expected_attach_type is not None:
                self.expected_attach_type = AttachType.parse(self.expected_attach_type)
        except ValueError as exc:
            raise SpecError(f"program {self.name!r}: {exc}") from None

    def copy(self, **changes: Any) -> ProgramSpec:
        """A modified copy."""
        return replace(self, **changes)

    def check(self) -> ProgramSpec:
        """Raise :class:`SpecError` for a malformed spec (name, empty body, bad references)."""
        where = f"program {self.name!r}"
        check_name(where, self.name)
        if not self.instructions:
            raise SpecError(f"{where}: has no instructions")
        for index, map_name in self.references.items():
            if not 0 <= index < len(self.instructions):
                raise SpecError(f"{where}: reference to map {map_name!r} at instruction "
                                f"{index}, but the program has {len(self.instructions)}")
            if not self.instructions[index].is_lddw:
                raise SpecError(f"{where}: instruction {index} refers to map {map_name!r} "
                                "but is not an lddw")
        return self

    def require_type(self) -> None:
        """Raise :class:`SpecError` where the program has no type yet (its section named
        none libbpf knows; libbpf also opens such objects and refuses to load them)."""
        if self.type == ProgramType.UNSPEC:
            raise SpecError(f"program {self.name!r}: its section {self.section!r} names no program type "
                            "(libbpf's names: 'xdp', 'tc', 'tracepoint/CAT/NAME', 'kprobe/FN', ...); "
                            f"set one before loading: spec.programs[{self.name!r}].copy(type='xdp'), "
                            "or --type on the command line")

    def explain(self, slot: int) -> str:
        """What is known about instruction slot ``slot`` beyond its encoding, one fact
        a line: the C source line it came from and, for an instruction poisoned by a
        failed CO-RE relocation, which relocation failed. Empty when nothing is known."""
        lines = []
        source = self.btf.source_line(slot) if self.btf is not None else None
        if source is not None:
            lines.append(f"source: {source}")
        starts = slot_offsets(self.instructions)
        for relocated in self.core:
            if relocated.poisoned and relocated.index < len(starts) and starts[relocated.index] == slot:
                lines.append(f"CO-RE relocation failed: {relocated.poisoned}")
        return "\n".join(lines)

    def relocated(self, resolve: Callable[[str], int]) -> list[Instruction]:
        """The instructions with each referenced lddw loading ``resolve(map name)``.

        An lddw that already says ``PSEUDO_MAP_VALUE`` keeps its value offset (the high
        32 bits); any other becomes ``PSEUDO_MAP_FD`` with the handle as its immediate.
        """
        out = list(self.instructions)
        for index, map_name in self.references.items():
            ins = out[index]
            handle = resolve(map_name)
            if ins.src == o.PSEUDO_MAP_VALUE:
                out[index] = ins.replace(imm=(ins.imm & ~0xFFFF_FFFF) | handle)
            else:
                out[index] = ins.replace(src=o.PSEUDO_MAP_FD, imm=handle)
        return out
