"""Reading any program source into a spec: C (text or a ``.c`` file, compiled with the
bundled clang), a BPF ELF object (a path or its bytes), assembly text (either syntax), or
raw instruction bytes — told apart by content, not only by name.

This is the first half of the front door (:func:`pybpf.read`); :func:`pybpf.load` puts
the spec on an engine. The ``pybpf`` commands read their program arguments through here
too, so the library and the command line take the same inputs.
"""

from __future__ import annotations

import os

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from pybpf.isa import Instruction
    from pybpf.object.collection import CollectionSpec
    from pybpf.object.programs import ProgramSpec, ProgramType

# The specs, pathlib and the assembler are imported where they are used: ``pybpf asm``
# needs only source_text, and a raw file is read without the assembler's parsers.

#: file names that hold assembly text, whatever their content looks like
TEXT_SUFFIXES = frozenset({".asm", ".s", ".S", ".bpf", ".txt"})
_ELF_MAGIC = b"\x7fELF"


class SourceError(PybpfError):
    """A program source that is none of C, an ELF object, assembly or raw instructions."""


def kind_of(data: bytes, name: str = "") -> str:
    """What ``data`` (the content of a file called ``name``, if any) holds: ``"elf"``,
    ``"c"``, ``"asm"`` or ``"raw"``. C is named ``.c`` or is text with a brace (the
    assembler's syntaxes have none); raw instructions are anything that is not text."""
    if data.startswith(_ELF_MAGIC):
        return "elf"
    suffix = os.path.splitext(name)[1]
    if suffix == ".c":
        return "c"
    if suffix in TEXT_SUFFIXES or looks_like_text(data):
        return "c" if b"{" in data and suffix not in TEXT_SUFFIXES else "asm"
    return "raw"


def looks_like_text(data: bytes) -> bool:
    """Non-empty UTF-8 without NUL bytes: how assembly is told from raw instructions."""
    if not data or b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def source_text(where: str, data: bytes, hint: str = "") -> str:
    """``data`` (from ``where``) decoded as UTF-8; an error names the line, column and byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(f"{where}: line {line}, column {column}: not UTF-8 text (byte {exc.start}: "
                          f"0x{data[exc.start]:02x}){hint}") from None


def read(source: str | os.PathLike[str] | bytes, *, name: str = "", type: ProgramType | str = "socket_filter",
         core_btf: str | Path | None = None, **compile_options: Any) -> CollectionSpec:
    """The collection a program source holds.

    ``source`` is a :class:`~pathlib.Path` (or a one-line string naming an existing
    file), C or assembly text (a ``str``), or the bytes of an ELF object or of raw
    instructions. ELF
    objects and C bring their own program types (from section names) and maps, with CO-RE
    relocations applied against ``core_btf`` (default: the running kernel's BTF).
    Assembly and raw instructions make one program called ``name`` (default: the file's
    stem, else ``prog``) of program type ``type``. ``compile_options`` (``defines``,
    ``include_dirs``, ``cflags``) go to :func:`pybpf.toolchain.compile_c` for C."""
    where, data, file_name = _content(source)
    if isinstance(source, (bytes, bytearray, memoryview)):   # text comes as str
        kind = "elf" if data.startswith(_ELF_MAGIC) else "raw"
    else:
        kind = kind_of(data, file_name)
    if kind in ("c", "elf"):
        return collection_of(where, data, kind, file_name, name, core_btf, compile_options)
    import re

    from pybpf.object.collection import CollectionSpec
    from pybpf.object.programs import ProgramSpec

    instructions = instructions_of(where, data, kind)
    program = name or re.sub(r"[^A-Za-z0-9_]", "_", _stem(file_name))[:15] or "prog"
    return CollectionSpec.of(ProgramSpec(program, type, instructions))


def instructions_of(where: str, data: bytes, kind: str) -> list[Instruction]:
    """The instructions of assembly text (``kind`` "asm") or raw instruction bytes
    ("raw"), without a spec around them (what ``pybpf disasm`` and ``asm`` need)."""
    if kind == "asm":
        from pybpf.isa import assemble

        return assemble(source_text(where, data, "; raw instructions need a .bin name"))
    from pybpf.isa import InvalidInstruction, decode

    if len(data) % 8:
        raise SourceError(f"{where}: {len(data)} bytes is not a whole number of 8-byte instructions")
    try:
        return decode(data)
    except InvalidInstruction as exc:
        raise SourceError(f"{where}: {exc}") from None


def _content(source: str | os.PathLike[str] | bytes) -> tuple[str, bytes, str]:
    """(where, for messages; the bytes; the file name, '' for text and bytes)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>", bytes(source), ""
    if isinstance(source, str) and ("\n" in source or not os.path.isfile(source)):
        if "\n" not in source and os.path.splitext(source)[1] in TEXT_SUFFIXES | {".c", ".o", ".bin"}:
            raise SourceError(f"{source}: no such file")
        return "<source>", source.encode(), ""
    path = os.fspath(source)
    try:
        with open(path, "rb") as file:
            return path, file.read(), path
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None


def _stem(path: str) -> str:
    """``pathlib.Path(path).stem``, without importing pathlib."""
    return os.path.splitext(os.path.basename(path))[0]


def collection_of(where: str, data: bytes, kind: str, file_name: str, name: str = "",
                  core_btf: str | Path | None = None, compile_options: dict[str, Any] | None = None
                  ) -> CollectionSpec:
    """The collection of an ELF object, or of C compiled first (``kind`` "elf" or "c", as
    :func:`kind_of` says), from the file ``file_name`` ("" for bytes or text) holding
    ``data``: what :func:`read` does with a file it has read."""
    if kind == "c":
        from pathlib import Path

        from pybpf.toolchain import compile_c  # the toolchain is only needed for C

        data = compile_c(Path(file_name) if file_name else data.decode("utf-8", "replace"), **(compile_options or {}))
    from pybpf.object.elf import load_object  # ELF support is only needed for objects

    stem = name or (_stem(file_name) if file_name else "obj")
    return load_object(data, name=stem, core_btf=core_btf)


def choose_program(where: str, collection: CollectionSpec, section: str | None) -> ProgramSpec:
    """The program of ``collection`` that ``section`` names (a section or function
    name), or its only program."""
    programs = list(collection.programs.values())
    names = ", ".join(f"{p.name} ({p.section})" if p.section else p.name for p in programs)
    if section is not None:
        chosen = [p for p in programs if section in (p.section, p.name)]
        if not chosen:
            raise SourceError(f"{where}: no program in section or named {section!r} (programs: {names})")
        return chosen[0]
    if len(programs) != 1:
        raise SourceError(f"{where}: {len(programs)} programs; choose one with --section (programs: {names})")
    return programs[0]
