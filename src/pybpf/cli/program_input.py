"""Reading the program a command works on — raw instruction bytes, assembly text (either
syntax), an ELF object compiled from C, or C source — through :mod:`pybpf.object.source`,
the reader behind :func:`pybpf.read`, so that ``pybpf run``, ``pybpf load`` and the rest
take the same inputs as the library."""

from __future__ import annotations

from pybpf.object.source import SourceError, choose_program, collection_of, instructions_of, kind_of

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.isa import Instruction
    from pybpf.object import CollectionSpec, ProgramSpec


class ProgramFile:
    """What a file held: the instructions, and for an ELF object the chosen program's
    spec and the whole collection (its maps). (A plain class: a dataclass would import
    ``dataclasses``, ~10 ms that reading a raw or assembly file does not otherwise need.)"""

    __slots__ = ("instructions", "program", "collection")

    def __init__(self, instructions: list[Instruction], program: ProgramSpec | None = None,
                 collection: CollectionSpec | None = None):
        self.instructions = instructions
        self.program = program
        self.collection = collection


def read_collection(path: str, core_btf: str | None = None) -> CollectionSpec | None:
    """The collection in an ELF object or a ``.c`` file (compiled first), with CO-RE
    relocations against ``core_btf`` (default: the running kernel's BTF); None for a
    file that is neither (raw instructions or assembly)."""
    program = read_program_file(path, core_btf=core_btf, choose=False)
    return program.collection


def read_program_file(path: str, section: str | None = None, core_btf: str | None = None,
                      choose: bool = True) -> ProgramFile:
    """The program in ``path``; for an ELF object or C file, the one ``section`` names
    (a section or function name) or the only one (with ``choose``)."""
    with open(path, "rb") as file:
        data = file.read()
    kind = kind_of(data, path)
    if kind not in ("c", "elf"):   # no spec: raw and assembly files are read without the object model
        if section is not None:
            raise SourceError(f"{path}: --section applies to ELF objects and C files, and this is neither")
        return ProgramFile(instructions_of(path, data, kind))
    collection = collection_of(path, data, kind, path, core_btf=core_btf)   # (read(Path(path)), without pathlib)
    if not choose:
        return ProgramFile([], None, collection)
    spec = choose_program(path, collection, section)
    return ProgramFile(spec.instructions, spec, collection)
