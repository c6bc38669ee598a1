"""BTF, the BPF Type Format: parsing, type lookups and sizes, and the types written
back out as C declarations (``vmlinux.h``) or as bpftool's listing.

The ELF loader reads map definitions and global variables from it, both engines use it
to describe maps, and tools decode records with it. It depends only on ``pybpf.errors``.

Names are imported on first use (:mod:`pybpf._lazy`): a program's line info needs
``BTFError``, not the C printer, the cycle checker and the disk cache (with them, ``import
pybpf.btf`` was ~15 ms of every command that reads a program).
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "CDumpError": "pybpf.btf.c_dump",
    "dump_c": "pybpf.btf.c_dump",
    "find_type_ids": "pybpf.btf.c_dump",
    "check_acyclic": "pybpf.btf.check",
    "Record": "pybpf.btf.decode",
    "decode": "pybpf.btf.decode",
    "encode": "pybpf.btf.encode",
    "numpy_dtype": "pybpf.btf.numpy_types",
    "BTF": "pybpf.btf.parse",
    "BTFError": "pybpf.btf.errors",
    "dump_raw": "pybpf.btf.raw_dump",
    "Kind": "pybpf.btf.types",
    "Member": "pybpf.btf.types",
    "Type": "pybpf.btf.types",
}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.btf.c_dump import CDumpError as CDumpError
    from pybpf.btf.c_dump import dump_c as dump_c
    from pybpf.btf.c_dump import find_type_ids as find_type_ids
    from pybpf.btf.check import check_acyclic as check_acyclic
    from pybpf.btf.decode import Record as Record
    from pybpf.btf.decode import decode as decode
    from pybpf.btf.encode import encode as encode
    from pybpf.btf.errors import BTFError as BTFError
    from pybpf.btf.numpy_types import numpy_dtype as numpy_dtype
    from pybpf.btf.parse import BTF as BTF
    from pybpf.btf.raw_dump import dump_raw as dump_raw
    from pybpf.btf.types import Kind as Kind
    from pybpf.btf.types import Member as Member
    from pybpf.btf.types import Type as Type

__all__ = ["BTF", "BTFError", "CDumpError", "Kind", "Member", "Record", "Type", "check_acyclic", "decode", "dump_c",
           "dump_raw", "encode", "find_type_ids", "numpy_dtype"]
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
