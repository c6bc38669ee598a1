"""C → BPF objects with the clang in the ``ziglang`` wheel, the project's BPF headers, and
``vmlinux.h`` generated from the kernel's BTF.

Names are imported on first use (:mod:`pybpf._lazy`), so that showing the shipped headers'
directory (:mod:`pybpf.toolchain.paths`) does not load the compiler driver.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "CompileError": "pybpf.toolchain.compile",
    "CompiledObject": "pybpf.toolchain.compile",
    "Diagnostic": "pybpf.toolchain.compile",
    "compile_c": "pybpf.toolchain.compile",
    "compile_object": "pybpf.toolchain.compile",
    "include_dir": "pybpf.toolchain.paths",
    "kernel_build_id": "pybpf.toolchain.vmlinux",
    "vmlinux_include_dir": "pybpf.toolchain.vmlinux",
}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.toolchain.compile import (
        CompiledObject as CompiledObject,
    )
    from pybpf.toolchain.compile import (
        CompileError as CompileError,
    )
    from pybpf.toolchain.compile import (
        Diagnostic as Diagnostic,
    )
    from pybpf.toolchain.compile import (
        compile_c as compile_c,
    )
    from pybpf.toolchain.compile import (
        compile_object as compile_object,
    )
    from pybpf.toolchain.paths import include_dir as include_dir
    from pybpf.toolchain.vmlinux import kernel_build_id as kernel_build_id
    from pybpf.toolchain.vmlinux import vmlinux_include_dir as vmlinux_include_dir

__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
