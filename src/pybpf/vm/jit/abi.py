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
MAX_REGIONS, REGION_SLOTS = 48, 5
R_WRITABLE = 1
#: a region's fifth slot: 0, or an array of values (a map's block) as ``stride << 32 |
#: value_size`` — an access must stay inside one value, as it must in a value's own region
ELEMENT_SHIFT = 32
#: a context's pointer fields (``xdp_md.data``...): their count, then (address, value) pairs
S_NPOINTERS = S_REGIONS + MAX_REGIONS * REGION_SLOTS
S_POINTERS = S_NPOINTERS + 1
MAX_POINTERS = 4
#: packet batches (``bpf_packets``): an XDP frame's start and end in its buffer, and the
#: number of the packet in progress (helpers see a new packet's memory when it changes)
S_HEAD = S_POINTERS + 2 * MAX_POINTERS
S_TAIL, S_PACKET = S_HEAD + 1, S_HEAD + 2
#: native map lookups (pybpf.vm.jit.lookups): the number of maps in the table, and its
#: host address — LOOKUP_SLOTS u64s per map: (handle, kind, key size, count, base, stride)
S_NLOOKUPS = S_PACKET + 1
S_LOOKUPS = S_NLOOKUPS + 1
#: a batch's shared XDP frame (``bpf_packets`` with a slot of 0): set when a helper ran
#: (it may have written anywhere in the frame), and the end of the previous packet in it
S_DIRTY = S_LOOKUPS + 1
S_EXTENT = S_DIRTY + 1
STATE_SLOTS = S_EXTENT + 1
LOOKUP_SLOTS = 6
#: lookup kinds: an array (value ``index`` at ``base + index * stride``, NULL from
#: ``count`` on), a cache of ``count`` (key, value address) pairs at host ``base``, and a
#: hash map's native tables (pybpf.vm.jit.hashes: ``base``, its descriptor's host address)
K_ARRAY, K_CACHE, K_HASH = 1, 2, 3
#: a native hash map's descriptor (hashmap.c's enum: keep them in step): first the
#: functions compiled code calls (``lookup(d, key) -> address``, ``update(d, key, value,
#: flags)``, ``delete(d, key)`` with host addresses of the key and value: -errno, or
#: LOOKUP_SLOW), then the tables (pybpf.vm.jit.hashes)
(D_LOOKUP, D_UPDATE, D_DELETE, D_INDEX, D_MASK, D_COUNT, D_MAX, D_KEY_SIZE, D_VALUE_SIZE, D_STRIDE, D_SLAB, D_BASE,
 D_FREE, D_NFREE, D_LOG, D_NLOG, D_LOG_CAP, D_EXTRA, D_KEYS, D_KEY_STRIDE, D_SLOTS) = range(21)
#: helpers that write nothing through their arguments (map lookup, update, delete, push;
#: clocks, random numbers, the CPU; redirects; trace_printk): calling one leaves a shared
#: XDP frame clean (S_DIRTY), so the next packet zeroes only what this one left past its end
FRAME_UNTOUCHED = frozenset({1, 2, 3, 5, 6, 7, 8, 23, 51, 87, 125})
#: what the native lookup returns when it cannot answer (the helper callback does)
LOOKUP_SLOW = (1 << 64) - 1
#: in the translate callback's size argument: the access is a write
WRITE_FLAG = 1 << 32

# fault codes
F_MEMORY, F_BUDGET, F_PACKET, F_UNINIT, F_HELPER, F_DEPTH, F_MISALIGNED = range(1, 8)

#: the functions every compiled program exports (see translate.Translator)
ENTRY_SYMBOL, BATCH_SYMBOL, PACKETS_SYMBOL = "bpf_entry", "bpf_batch", "bpf_packets"

# the packet layouts of ``bpf_packets`` (its ``layout`` argument)
L_XDP, L_SKB_L2, L_SKB_L3 = 0, 1, 2
#: ``bpf_packets``' flag bits: the skb exposes data/data_end (tc, cgroup skb)
P_DIRECT = 1
#: the XDP frame: headroom before the packet, and tailroom to which it may grow (and the
#: most of a longer packet its linear part holds); a longer packet's fragments are pages
XDP_HEADROOM, XDP_TAILROOM = 256, 4096 - 256 - 320
XDP_FRAG_SIZE = 4096
CONTEXT_BASE = 0x0000_0000_F000_0000
INPUT_BASE = 0x0000_0001_0000_0000
SK_BUFF_SIZE = 192
#: in ``bpf_packets``' heads: a packet it skipped (a runt, a cut network header: no test
#: run takes it)
SKIPPED = (1 << 64) - 1


class JitUnsupported(Exception):
    """A program shape the JIT does not translate, or no way to compile it here (the
    interpreter runs it instead)."""
