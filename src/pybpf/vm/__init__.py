"""The userspace engine: runs eBPF programs anywhere, with the kernel's semantics.

``run(program, mem=b"")`` is the conformance suite's contract (r1 = a copy of ``mem``,
r2 = its length, result r0). :func:`run_program` returns more (trace output, instruction
count, time); :class:`CheckedProgram` is the load-time check, :class:`Machine` one run's state.

The names below are imported on first use (:mod:`pybpf._lazy`): a program the JIT loads
from its disk cache runs through :mod:`pybpf.vm.jit` without the interpreter, the
helpers or the object model this package's modules import.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "DEFAULT_MAX_INSTRUCTIONS": "pybpf.vm.constants", "HELPERS": "pybpf.vm.helpers", "helper": "pybpf.vm.helpers",
    "JIT_DEFAULT": "pybpf.vm.interpreter", "Machine": "pybpf.vm.interpreter", "ProgramRun": "pybpf.vm.interpreter",
    "run": "pybpf.vm.interpreter", "run_program": "pybpf.vm.interpreter", "Memory": "pybpf.vm.memory",
    "Region": "pybpf.vm.memory", "CheckedProgram": "pybpf.vm.program", "VMError": "pybpf.vm.errors",
}
__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
