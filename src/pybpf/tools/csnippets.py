"""C pieces that several tools' BPF programs share, pasted into their source: a counter
added to in a hash map, and the log2 histogram slot of a value (the slots
:class:`pybpf.output.Histogram` numbers)."""

from __future__ import annotations

#: ``map_add(&map, &key, value)``: adds ``value`` to a hash map's u64 under ``key``,
#: creating the entry the first time
MAP_ADD = r"""
#define map_add(map, key, value) ({                                     \
    u64 __added = (value), *__sum = bpf_map_lookup_elem(map, key);      \
    if (__sum)                                                          \
        __sync_fetch_and_add(__sum, __added);                           \
    else                                                                \
        bpf_map_update_elem(map, key, &__added, BPF_NOEXIST);           \
})
"""

#: ``log2_slot(value)``: 1 for 0, 2 for 1, k + 2 for [2^k, 2^(k+1))
LOG2_SLOT = r"""
static __always_inline u32 log2_slot(u64 value)
{
    u32 bits = 0;
    for (int i = 0; i < 64 && value; i++) {
        value >>= 1;
        bits++;
    }
    return bits + 1;        /* 1 for 0, 2 for 1, k + 2 for [2^k, 2^(k+1)) */
}
"""
