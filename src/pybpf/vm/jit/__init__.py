"""The vm engine's JIT: eBPF → LLVM IR → native code through llvmlite, with the
interpreter's semantics and checks (bounds, uninitialised registers, budget)."""

from pybpf.vm.jit.runtime import CACHE_SIZE, CompiledProgram, compile_program
from pybpf.vm.jit.translate import JitUnsupported

__all__ = ["CACHE_SIZE", "CompiledProgram", "JitUnsupported", "compile_program"]
