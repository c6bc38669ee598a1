"""Reading the program a command works on: raw instruction bytes, assembly text (either
syntax), an ELF object compiled from C, or C source (compiled here with
:func:`pybpf.toolchain.compile_c`) — told apart by content, not only by name, so that
``pybpf run``, ``pybpf load`` and the rest take the same inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pybpf.errors import PybpfError
from pybpf.isa import Instruction, InvalidInstruction, assemble, decode
from pybpf.object import CollectionSpec, ProgramSpec

_TEXT_SUFFIXES = {".asm", ".s", ".S", ".bpf", ".txt"}


@dataclass
class ProgramFile:
    """What a file held: the instructions, and for an ELF object the chosen program's
    spec and the whole collection (its maps)."""

    instructions: list[Instruction]
    program: ProgramSpec | None = None
    collection: CollectionSpec | None = None


def read_collection(path: str, core_btf: str | None = None) -> CollectionSpec | None:
    """The collection in an ELF object or a ``.c`` file (compiled first), with CO-RE
    relocations against ``core_btf`` (default: the running kernel's BTF); None for a
    file that is neither (raw instructions or assembly)."""
    return _collection(path, Path(path).read_bytes(), core_btf)


def _collection(path: str, data: bytes, core_btf: str | None) -> CollectionSpec | None:
    if Path(path).suffix == ".c" and not data.startswith(b"\x7fELF"):
        from pybpf.toolchain import compile_c  # the toolchain is only needed for C

        data = compile_c(Path(path))
    if not data.startswith(b"\x7fELF"):
        return None
    from pybpf.object.elf import load_object  # ELF support is only needed for objects

    return load_object(data, name=Path(path).stem, core_btf=core_btf)


def read_program_file(path: str, section: str | None = None, core_btf: str | None = None) -> ProgramFile:
    """The program in ``path``; for an ELF object or C file, the one ``section`` names
    (a section or function name) or the only one."""
    data = Path(path).read_bytes()
    collection = _collection(path, data, core_btf)
    if collection is not None:
        spec = _choose(path, collection, section)
        return ProgramFile(spec.instructions, spec, collection)
    if section is not None:
        raise PybpfError(f"{path}: --section applies to ELF objects and C files, and this is neither")
    if Path(path).suffix in _TEXT_SUFFIXES or _looks_like_text(data):
        return ProgramFile(assemble(source_text(path, data, "; raw programs need a .bin name")))
    if len(data) % 8:
        raise PybpfError(f"{path}: {len(data)} bytes is not a whole number of 8-byte instructions")
    try:
        return ProgramFile(decode(data))
    except InvalidInstruction as exc:
        raise PybpfError(f"{path}: {exc}") from None


def source_text(path: str, data: bytes, hint: str = "") -> str:
    """``data`` (the file ``path``) decoded as UTF-8; an error names the line, column and byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PybpfError(f"{path}: line {line}, column {column}: not UTF-8 text (byte {exc.start}: "
                         f"0x{data[exc.start]:02x}){hint}") from None


def _looks_like_text(data: bytes) -> bool:
    if not data or b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _choose(path: str, collection: CollectionSpec, section: str | None) -> ProgramSpec:
    programs = list(collection.programs.values())
    if section is not None:
        chosen = [p for p in programs if section in (p.section, p.name)]
        if not chosen:
            names = ", ".join(f"{p.name} ({p.section})" for p in programs)
            raise PybpfError(f"{path}: no program in section or named {section!r} (programs: {names})")
        return chosen[0]
    if len(programs) != 1:
        names = ", ".join(f"{p.name} ({p.section})" for p in programs)
        raise PybpfError(f"{path}: {len(programs)} programs; choose one with --section (programs: {names})")
    return programs[0]
