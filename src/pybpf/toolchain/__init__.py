"""C → BPF objects with the clang in the ``ziglang`` wheel, the project's BPF headers, and
``vmlinux.h`` generated from the kernel's BTF."""

from pybpf.toolchain.compile import CompiledObject, CompileError, Diagnostic, compile_c, compile_object
from pybpf.toolchain.paths import cache_dir, include_dir
from pybpf.toolchain.vmlinux import kernel_build_id, vmlinux_include_dir

__all__ = ["CompileError", "CompiledObject", "Diagnostic", "cache_dir", "compile_c", "compile_object",
           "include_dir", "kernel_build_id", "vmlinux_include_dir"]
