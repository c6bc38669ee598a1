"""BTF, the BPF Type Format: parsing, type lookups and sizes.

The ELF loader reads map definitions and global variables from it, both engines use it
to describe maps, and tools decode records with it. It depends only on ``pybpf.errors``.
"""

from pybpf.btf.decode import Record, decode
from pybpf.btf.numpy_types import numpy_dtype
from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.types import Kind, Member, Type

__all__ = ["BTF", "BTFError", "Kind", "Member", "Record", "Type", "decode", "numpy_dtype"]
