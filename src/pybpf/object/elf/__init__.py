"""Reading BPF ELF objects (what clang -target bpf writes) into backend-neutral specs."""

from pybpf.object.elf.loader import load_object
from pybpf.object.elf.reader import ObjectError, read_object
from pybpf.object.sections import SectionKind, section_kind

__all__ = ["ObjectError", "SectionKind", "load_object", "read_object", "section_kind"]
