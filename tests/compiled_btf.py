"""Raw BTF files made from C, for tests of BTF readers and writers (importable by name,
like shared_data.py)."""

from __future__ import annotations

from pathlib import Path

from pybpf.object.elf import read_object
from pybpf.toolchain import compile_c


def btf_file_from_c(source: str, directory: Path) -> Path:
    """A raw BTF file holding the types of C ``source`` (the .BTF of its compiled object)."""
    path = directory / "types.btf"
    path.write_bytes(read_object(compile_c(source)).section(".BTF").data)
    return path
