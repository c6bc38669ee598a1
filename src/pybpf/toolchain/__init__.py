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
__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
