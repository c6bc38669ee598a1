"""C → BPF objects with the clang in the ``ziglang`` wheel, and the project's BPF headers."""

from pybpf.toolchain.compile import CompileError, cache_dir, compile_c, include_dir

__all__ = ["CompileError", "cache_dir", "compile_c", "include_dir"]
