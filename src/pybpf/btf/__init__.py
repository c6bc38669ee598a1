"""BTF, the BPF Type Format: parsing, type lookups and sizes, and the types written
back out as C declarations (``vmlinux.h``) or as bpftool's listing.

The ELF loader reads map definitions and global variables from it, both engines use it
to describe maps, and tools decode records with it. It depends only on ``pybpf.errors``.
"""

from pybpf.btf.c_dump import CDumpError, dump_c, find_type_ids
from pybpf.btf.check import check_acyclic
from pybpf.btf.decode import Record, decode
from pybpf.btf.encode import encode
from pybpf.btf.numpy_types import numpy_dtype
from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.raw_dump import dump_raw
from pybpf.btf.types import Kind, Member, Type

__all__ = ["BTF", "BTFError", "CDumpError", "Kind", "Member", "Record", "Type", "check_acyclic", "decode", "dump_c",
           "dump_raw", "encode", "find_type_ids", "numpy_dtype"]
