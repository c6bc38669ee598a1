"""CO-RE (Compile Once – Run Everywhere): recomputing the offsets, sizes and existence
checks a program compiled against its own type definitions against another kernel's
BTF, before either engine loads it — so one object runs on the vm engine and on every
kernel whose types have the fields it reads.

:func:`relocate` applies a code section's relocations (from ``.BTF.ext``) to its
instructions; :mod:`pybpf.object.elf` calls it when it reads an object (see
``load_object(..., core_btf=...)``). Relocations that cannot be satisfied poison their
instruction (libbpf's choice): the program is refused only if it can reach it.
"""

from pybpf.object.core.calc import ReloKind, Result, calculate, candidates
from pybpf.object.core.patch import POISON_HELPER, is_poison
from pybpf.object.core.relocate import CoreError, Relocated, describe_access, relocate, target_btf
from pybpf.object.core.spec import essential_name

__all__ = [
    "POISON_HELPER", "CoreError", "ReloKind", "Relocated", "Result", "calculate", "candidates",
    "describe_access", "essential_name", "is_poison", "relocate", "target_btf",
]
