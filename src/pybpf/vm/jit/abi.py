"""What compiled code and the runtime agree on: the state array's slots, fault codes and
the exported functions' names — kept apart from the translator so that running code
loaded from the disk cache imports neither llvmlite nor the translator's dependencies.

Compiled code has no undefined symbols: it reaches the runtime's two callbacks (helpers,
and addresses in calling frames' stacks) through function pointers the runtime puts in
the state array. That is what lets its machine code be linked into a shared object and
loaded with ``ctypes`` in a later process.
"""

from __future__ import annotations

MAX_FRAMES = 8

# the state array shared with the runtime (u64 slots)
(S_STATUS, S_SLOT, S_ADDR, S_SIZE, S_WRITE, S_BUDGET, S_DEPTH, S_IN_BASE, S_IN_HOST, S_IN_LEN, S_CPU,
 S_HELPER_FN, S_TRANSLATE_FN, S_R0_SET) = range(14)
S_FRAMES = 14          # host address of each live frame's stack, MAX_FRAMES slots
S_CALLS = S_FRAMES + MAX_FRAMES   # the slot of the bpf-to-bpf call that entered each frame

# engine runs (code translated with ``engine=True``): the vm engine's memory as native tables
#: host address of the main function's stack (the engine's: tail calls share it), and of
#: the values of the program's ``lddw`` map-value references, in instruction order
S_STACK_HOST = S_CALLS + MAX_FRAMES
S_CONSTS = S_STACK_HOST + 1
#: regions of the engine's memory the code reaches without a callback (context, map
#: values, records): their count, then REGION_SLOTS slots each (base, end, host, flags)
S_NREGIONS = S_CONSTS + 1
S_REGIONS = S_NREGIONS + 1
MAX_REGIONS, REGION_SLOTS = 16, 4
R_WRITABLE = 1
#: a context's pointer fields (``xdp_md.data``...): their count, then (address, value) pairs
S_NPOINTERS = S_REGIONS + MAX_REGIONS * REGION_SLOTS
S_POINTERS = S_NPOINTERS + 1
MAX_POINTERS = 4
STATE_SLOTS = S_POINTERS + 2 * MAX_POINTERS
#: in the translate callback's size argument: the access is a write
WRITE_FLAG = 1 << 32

# fault codes
F_MEMORY, F_BUDGET, F_PACKET, F_UNINIT, F_HELPER, F_DEPTH, F_MISALIGNED = range(1, 8)

#: the functions every compiled program exports (see translate.Translator)
ENTRY_SYMBOL, BATCH_SYMBOL = "bpf_entry", "bpf_batch"


class JitUnsupported(Exception):
    """A program shape the JIT does not translate, or no way to compile it here (the
    interpreter runs it instead)."""
