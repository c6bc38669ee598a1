"""Numbers of the vm's machine model that the interpreter, the JIT's runtime, the engine
and the helper families share, in a module that imports nothing: a program the JIT loads
from its disk cache runs without importing the interpreter (see
:mod:`pybpf.vm.jit.runtime`) or, when it calls no helper, the helper families, and the
helper families import them without a cycle through the interpreter."""

M64 = (1 << 64) - 1
#: what ``r1 = map[fd:ID]`` loads in the vm: this plus the map's id
MAP_HANDLE_BASE = 0xFFFF_A000_0000_0000
#: instructions a run may execute before it is stopped, unless told otherwise
DEFAULT_MAX_INSTRUCTIONS = 1_000_000
#: tail calls a program may chain, as in the kernel
MAX_TAIL_CALLS = 33
