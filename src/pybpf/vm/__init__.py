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
    "run_timers": "pybpf.vm.timers",
}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.vm.constants import DEFAULT_MAX_INSTRUCTIONS as DEFAULT_MAX_INSTRUCTIONS
    from pybpf.vm.errors import VMError as VMError
    from pybpf.vm.helpers import HELPERS as HELPERS
    from pybpf.vm.helpers import helper as helper
    from pybpf.vm.interpreter import (
        JIT_DEFAULT as JIT_DEFAULT,
    )
    from pybpf.vm.interpreter import (
        Machine as Machine,
    )
    from pybpf.vm.interpreter import (
        ProgramRun as ProgramRun,
    )
    from pybpf.vm.interpreter import (
        run as run,
    )
    from pybpf.vm.interpreter import (
        run_program as run_program,
    )
    from pybpf.vm.memory import Memory as Memory
    from pybpf.vm.memory import Region as Region
    from pybpf.vm.program import CheckedProgram as CheckedProgram
    from pybpf.vm.timers import run_timers as run_timers

__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
