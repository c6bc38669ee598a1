"""The vm engine's JIT: eBPF → LLVM IR → native code through llvmlite, with the
interpreter's semantics and checks (bounds, uninitialised registers, budget).

Names are imported on first use (:mod:`pybpf._lazy`): :class:`JitUnsupported` comes
from the light :mod:`pybpf.vm.jit.abi`, and the runtime imports llvmlite only to
compile — a program found in the disk cache runs without it (docs/jit.md).

The public surface, for the rest of pybpf too: :func:`compile_program` and
:class:`CompiledProgram` (with its batch entry for native callers), :class:`EngineRun`
(the vm engine's runs of loaded programs), and :mod:`native`,
the cache of native code compiled from LLVM IR (the capture walker's loops use it).
Nothing outside ``pybpf.vm`` imports the other modules of this package.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {"CACHE_SIZE": "pybpf.vm.jit.runtime", "CompiledProgram": "pybpf.vm.jit.runtime",
            "EngineRun": "pybpf.vm.jit.runtime",
            "compile_program": "pybpf.vm.jit.runtime", "JitUnsupported": "pybpf.vm.jit.abi"}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.vm.jit import native as native
    from pybpf.vm.jit.abi import JitUnsupported as JitUnsupported
    from pybpf.vm.jit.runtime import (
        CACHE_SIZE as CACHE_SIZE,
    )
    from pybpf.vm.jit.runtime import (
        CompiledProgram as CompiledProgram,
    )
    from pybpf.vm.jit.runtime import (
        compile_program as compile_program,
    )

__all__ = [*sorted(_SOURCES), "native"]
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, ("native",))
