"""The userspace engine: runs eBPF programs anywhere, with the kernel's semantics.

``run(program, mem=b"")`` is the conformance suite's contract (r1 = a copy of ``mem``,
r2 = its length, result r0). :func:`run_program` returns more (trace output, instruction
count, time); :class:`Program` is the load-time check, :class:`Machine` one run's state.
"""

from pybpf.vm import map_helpers  # noqa: F401  (registers the map helpers)
from pybpf.vm.errors import VMError
from pybpf.vm.helpers import HELPERS, helper
from pybpf.vm.interpreter import DEFAULT_MAX_INSTRUCTIONS, JIT_DEFAULT, Machine, RunResult, run, run_program
from pybpf.vm.memory import Memory, Region
from pybpf.vm.program import Program

__all__ = [
    "DEFAULT_MAX_INSTRUCTIONS", "HELPERS", "JIT_DEFAULT", "Machine", "Memory", "Program", "Region", "RunResult", "VMError",
    "helper", "run", "run_program",
]
