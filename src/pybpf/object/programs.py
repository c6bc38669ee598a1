"""ProgramSpec: a program's instructions and the names it needs resolved at load.

Instructions are :class:`pybpf.isa.Instruction` values, one per logical instruction, so
``references`` keys are logical indexes (what ``isa.slot_offsets`` maps to slots). A
reference marks an ``lddw`` that names a map; each engine resolves the name to its own
handle — a file descriptor in the kernel, a map id in the vm — through :meth:`relocated`,
so both engines relocate by the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.object.errors import SpecError
from pybpf.object.kinds import AttachType, ProgramType
from pybpf.object.maps import NAME_LEN

_NAME_CHARS = re.compile(r"[A-Za-z0-9_.]*\Z")


@dataclass(frozen=True)
class BTFInfo:
    """Raw BTF and the program's func/line info records (bpf_func_info, bpf_line_info).

    Kept as bytes: the kernel takes them as they are, and the vm reads line info through
    :mod:`pybpf.btf` when it wants source lines for messages.
    """

    btf: bytes
    func_info: bytes = b""
    func_info_rec_size: int = 8
    line_info: bytes = b""
    line_info_rec_size: int = 16


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
        if len(self.name.encode()) >= NAME_LEN or not _NAME_CHARS.match(self.name):
            raise SpecError(f"{where}: names are at most {NAME_LEN - 1} characters of "
                            "letters, digits, '_' and '.'")
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
                out[index] = replace(ins, imm=(ins.imm & ~0xFFFF_FFFF) | handle)
            else:
                out[index] = replace(ins, src=o.PSEUDO_MAP_FD, imm=handle)
        return out
