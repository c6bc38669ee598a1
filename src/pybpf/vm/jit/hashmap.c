/*
 * A vm hash map's elements as compiled code reaches them in a batch of packets, so that
 * bpf_map_lookup_elem (hit or miss), bpf_map_update_elem and bpf_map_delete_elem run
 * without a callback into Python (see hashes.py beside this file, which keeps the map's
 * Python side -- its OrderedDict of keys -- in step with this table).
 *
 * The map's values live in one block ("slab") of max_entries slots of ``stride`` bytes,
 * the same bytes the Python map's values are views of; an index (open addressing,
 * linear probing, deletion by backward shift: no tombstones) maps a key to its slot. Inserts take a slot from a stack of free ones. Every insert and delete is
 * appended to a log that Python replays into the map's OrderedDict (in order: the order
 * of the map's keys is the order of inserts, as userspace iterates them) before
 * anything in Python looks at the map. A full log makes an operation answer SLOW: the
 * Python helper does it, after the log was replayed.
 *
 * Keys of any size (up to hashes.py's limit) are kept in a block of their own, one per
 * slot; the index holds each key's hash and slot, and a probe compares the key's bytes.
 * A log record is the slot (and what happened) followed by the key's bytes, as the slot
 * may hold another key by the time Python reads the log.
 *
 * Semantics are the kernel's (and the vm's HashMap): BPF_NOEXIST on an existing key is
 * -EEXIST, BPF_EXIST on a missing key -ENOENT, a new key in a full map -E2BIG, a delete
 * of a missing key -ENOENT; other flags answer SLOW (the Python helper decides). An
 * update of an existing key puts the value in a new element, as the kernel's
 * preallocated hash map does: the spare slot takes the key, the old slot becomes the
 * spare (a program's pointer to the old value no longer reaches the map); a deleted
 * key's slot goes on top of the free stack, which the next insert takes first.
 *
 * Freestanding: no libc headers.
 */

typedef unsigned long long u64;

/* the descriptor's slots (a u64 array shared with hashes.py: keep them in step) */
enum {
	D_LOOKUP, D_UPDATE, D_DELETE,   /* these functions' addresses, for compiled code */
	D_INDEX, D_MASK,                /* the index: (key, slot + 1) pairs; its capacity - 1 */
	D_COUNT, D_MAX, D_KEY_SIZE, D_VALUE_SIZE, D_STRIDE,
	D_SLAB, D_BASE,                 /* the values' host address, and where the program sees them */
	D_FREE, D_NFREE,                /* the stack of free slots and its depth */
	D_LOG, D_NLOG, D_LOG_CAP,       /* (key, slot | LOG_DELETE or LOG_REPLACE) since Python last looked */
	D_EXTRA,                        /* the spare slot an update of an existing key takes */
	D_KEYS, D_KEY_STRIDE,           /* each slot's key (host address), and bytes per key */
	D_SLOTS
};

#define SLOW 0xFFFFFFFFFFFFFFFFull
#define LOG_DELETE (1ull << 63)
#define LOG_REPLACE (1ull << 62)
#define EEXIST 17
#define ENOENT 2
#define E2BIG 7
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

/* the key's hash: its bytes in little-endian 8-byte words (the last one zero-padded),
 * mixed one after another (hashes.py's ``key_hash``) */
static inline u64 key_hash(const u64 *d, u64 host)
{
	const unsigned char *p = (const unsigned char *)host;
	u64 size = d[D_KEY_SIZE], h = 0x9E3779B97F4A7C15ull ^ size;
	for (u64 i = 0; i < size; i += 8) {
		u64 word = 0;
		for (u64 j = 0; j < 8 && i + j < size; j++)
			word |= (u64)p[i + j] << (8 * j);
		h = (h ^ word) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 32;
	}
	return h;
}

static inline u64 home(const u64 *d, u64 hash)
{
	return (hash * 0x9E3779B97F4A7C15ull >> 32) & d[D_MASK];
}

static inline const unsigned char *slot_key(const u64 *d, u64 slot)
{
	return (const unsigned char *)(d[D_KEYS] + slot * d[D_KEY_STRIDE]);
}

static inline int same_key(const u64 *d, u64 slot, u64 host)
{
	const unsigned char *a = slot_key(d, slot), *b = (const unsigned char *)host;
	for (u64 i = 0; i < d[D_KEY_SIZE]; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* the index position of the key at ``host``, or of the empty pair where it would go */
static inline u64 position(const u64 *d, u64 hash, u64 host)
{
	const u64 *index = (const u64 *)d[D_INDEX];
	u64 at = home(d, hash);
	while (index[2 * at + 1] && !(index[2 * at] == hash && same_key(d, index[2 * at + 1] - 1, host)))
		at = (at + 1) & d[D_MASK];
	return at;
}

static inline void copy(unsigned char *to, const unsigned char *from, u64 size)
{
	for (u64 i = 0; i < size; i++)
		to[i] = from[i];
}

static inline int log_full(const u64 *d)
{
	return d[D_NLOG] >= d[D_LOG_CAP];
}

/* a log record: the slot and what happened, then the key's bytes */
static inline void log_record(u64 *d, u64 host, u64 record)
{
	u64 *entry = (u64 *)d[D_LOG] + d[D_NLOG] * (1 + d[D_KEY_STRIDE] / 8);
	entry[0] = record;
	copy((unsigned char *)(entry + 1), (const unsigned char *)host, d[D_KEY_SIZE]);
	d[D_NLOG]++;
}

/* bpf_map_lookup_elem: the value's address as the program sees it, or 0 */
u64 hash_lookup(u64 *d, u64 key_host)
{
	const u64 *index = (const u64 *)d[D_INDEX];
	u64 at = position(d, key_hash(d, key_host), key_host);
	u64 slot = index[2 * at + 1];
	return slot ? d[D_BASE] + (slot - 1) * d[D_STRIDE] : 0;
}

/* bpf_map_update_elem with the value at host address ``value``: 0, -errno, or SLOW */
u64 hash_update(u64 *d, u64 key_host, u64 value, u64 flags)
{
	if (flags > BPF_EXIST)
		return SLOW;
	u64 hash = key_hash(d, key_host);
	u64 *index = (u64 *)d[D_INDEX];
	u64 at = position(d, hash, key_host);
	u64 slot = index[2 * at + 1];
	if (slot && flags == BPF_NOEXIST)
		return -(u64)EEXIST;
	if (!slot && flags == BPF_EXIST)
		return -(u64)ENOENT;
	if (!slot && d[D_COUNT] >= d[D_MAX])
		return -(u64)E2BIG;
	if (log_full(d) || (!slot && d[D_NFREE] == 0))
		return SLOW;
	if (slot) {             /* a new element in the old one's place */
		u64 spare = d[D_EXTRA];
		d[D_EXTRA] = slot - 1;
		slot = spare + 1;
		index[2 * at + 1] = slot;
		copy((unsigned char *)slot_key(d, slot - 1), (const unsigned char *)key_host, d[D_KEY_SIZE]);
		log_record(d, key_host, (slot - 1) | LOG_REPLACE);
	} else {
		slot = ((u64 *)d[D_FREE])[--d[D_NFREE]] + 1;
		index[2 * at] = hash;
		index[2 * at + 1] = slot;
		copy((unsigned char *)slot_key(d, slot - 1), (const unsigned char *)key_host, d[D_KEY_SIZE]);
		d[D_COUNT]++;
		log_record(d, key_host, slot - 1);
	}
	unsigned char *to = (unsigned char *)(d[D_SLAB] + (slot - 1) * d[D_STRIDE]);
	const unsigned char *from = (const unsigned char *)value;
	for (u64 i = 0; i < d[D_VALUE_SIZE]; i++)
		to[i] = from[i];
	return 0;
}

/* bpf_map_delete_elem: 0, -ENOENT, or SLOW */
u64 hash_delete(u64 *d, u64 key_host)
{
	u64 *index = (u64 *)d[D_INDEX];
	u64 at = position(d, key_hash(d, key_host), key_host);
	u64 slot = index[2 * at + 1];
	if (!slot)
		return -(u64)ENOENT;
	if (log_full(d))
		return SLOW;
	/* backward shift: pull later pairs of the probe run into the hole they may belong in */
	u64 hole = at, next = (at + 1) & d[D_MASK];
	while (index[2 * next + 1]) {
		u64 want = home(d, index[2 * next]);
		/* the pair at ``next`` may move to ``hole`` unless its home lies after the hole */
		if (((next - want) & d[D_MASK]) >= ((next - hole) & d[D_MASK])) {
			index[2 * hole] = index[2 * next];
			index[2 * hole + 1] = index[2 * next + 1];
			hole = next;
		}
		next = (next + 1) & d[D_MASK];
	}
	index[2 * hole] = 0;
	index[2 * hole + 1] = 0;
	((u64 *)d[D_FREE])[d[D_NFREE]++] = slot - 1;
	d[D_COUNT]--;
	log_record(d, key_host, (slot - 1) | LOG_DELETE);
	return 0;
}
