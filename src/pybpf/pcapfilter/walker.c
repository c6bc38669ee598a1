/*
 * The native loops of ``pybpf filter`` over classic pcap records (see walker.py, which
 * compiles this file once with the clang in the ziglang wheel and keeps the result in
 * pybpf's JIT cache).
 *
 * A record is a 16-byte header -- seconds, sub-second part, captured length, wire
 * length, each 32 bits in the file's byte order -- then the captured bytes. Buffers and
 * arrays are passed as 64-bit addresses (the callers are ctypes and the vm JIT), and
 * every position is a byte offset from ``buf``.
 *
 * Freestanding: no libc headers; the only call out is memcpy (resolved from the process).
 */

typedef unsigned long long u64;
typedef unsigned int u32;

enum stop_reason {
	STOP_END = 0,       /* the buffer ends (or cuts the next record short) */
	STOP_FULL = 1,      /* the arrays are full */
	STOP_OVERSIZED = 2, /* a captured length over the link type's limit */
	STOP_BOUNDARY = 3,  /* the next record starts at or after ``until`` */
	STOP_FILTER = 4,    /* pcap_filter: the filter did not finish a batch (a fault) */
};

#define RECORD_HEADER 16
/* the next record's address depends on this one's length, so the hardware cannot run
 * ahead on its own: ask for the memory some way ahead (read, low locality) */
#define PREFETCH_AHEAD 8192
#define PREFETCH_LINES 8

void *memcpy(void *dst, const void *src, unsigned long size);

/* the 32-bit field at ``address`` (any alignment), byte-swapped when the file's order is
 * not this machine's */
static inline u64 field32(u64 address, int swap)
{
	u32 value;
	__builtin_memcpy(&value, (const void *)address, 4);
	return swap ? __builtin_bswap32(value) : value;
}

/*
 * Find consecutive records from ``pos`` and fill the arrays with each one's offset,
 * captured length, wire length and data address, up to ``max`` records. Stops at the
 * end of the buffer (or a record cut short by it), at a captured length over ``limit``,
 * when the arrays are full, or at the first record starting at or after ``until``.
 * stop[0] gets where it stopped, stop[1] why; returns the records found.
 */
u64 pcap_walk(u64 buf, u64 pos, u64 end, u64 swap, u64 limit, u64 max,
	      u64 *offsets, u64 *caplens, u64 *wirelens, u64 *hosts, u64 *stop, u64 until)
{
	u64 count = 0, reason;
	for (;;) {
		if (count >= max) {
			reason = STOP_FULL;
			break;
		}
		if (pos >= until) {
			reason = STOP_BOUNDARY;
			break;
		}
		u64 data = pos + RECORD_HEADER;
		if (data > end) {
			reason = STOP_END;
			break;
		}
		u64 record = buf + pos;
		for (int line = 0; line < PREFETCH_LINES; line++)
			__builtin_prefetch((const void *)(record + PREFETCH_AHEAD + 64 * line), 0, 0);
		u64 caplen = field32(record + 8, swap != 0);
		u64 wirelen = field32(record + 12, swap != 0);
		if (caplen > limit) {
			reason = STOP_OVERSIZED;
			break;
		}
		u64 following = data + caplen;
		if (following > end) {
			reason = STOP_END;
			break;
		}
		offsets[count] = pos;
		caplens[count] = caplen;
		wirelens[count] = wirelen;
		hosts[count] = buf + data;
		count++;
		pos = following;
	}
	stop[0] = pos;
	stop[1] = reason;
	return count;
}

/* Copy the records (headers and all) whose result is non-zero to ``out``, in order;
 * returns the bytes written. */
u64 pcap_gather(u64 base, const u64 *offsets, const u64 *caplens, const u64 *results, u64 n, u64 out)
{
	u64 written = 0;
	for (u64 i = 0; i < n; i++) {
		if (results[i] == 0)
			continue;
		u64 size = caplens[i] + RECORD_HEADER;
		memcpy((void *)(out + written), (const void *)(base + offsets[i]), size);
		written += size;
	}
	return written;
}

/* The indices i < n where a[i] != b[i], written to ``indices``, at most ``limit`` of
 * them; returns how many. */
u64 pcap_differ(const u64 *a, const u64 *b, u64 n, u64 *indices, u64 limit)
{
	u64 found = 0;
	for (u64 i = 0; i < n && found < limit; i++)
		if (a[i] != b[i])
			indices[found++] = i;
	return found;
}

/*
 * A guess of where a record starts, from ``pos`` in the middle of a file: the first p in
 * [pos, end) where ``chain`` consecutive records have plausible headers (sub-second part
 * below ``fraction_limit``, captured length from 1 to ``limit`` and at most the wire
 * length, wire length at most SYNC_WIRELEN, data inside the buffer), or where fewer
 * lead exactly to ``end``; ``end`` when there is none.
 *
 * Zero-length records and huge wire lengths are legal but rare, and without them the
 * guess is rarely fooled by an alias: the zero padding that ends many packets, read
 * as a zero-length header whose wire length is the next record's seconds, starts a
 * chain 4 bytes out of step that stays plausible while captured and wire lengths
 * agree (tcpdump's test captures fooled 56 of 150 guesses that way, 4 now). A wrong
 * guess is only slower: the piece is walked again from where the one before ends.
 */
/* the largest wire length a guess believes (16 MiB: no link sends more in one frame) */
#define SYNC_WIRELEN (1ULL << 24)

u64 pcap_sync(u64 buf, u64 pos, u64 end, u64 swap, u64 limit, u64 fraction_limit, u64 chain)
{
	for (u64 p = pos; p < end; p++) {
		u64 q = p, k = 0;
		for (;;) {
			if (k >= chain)
				return p;
			u64 data = q + RECORD_HEADER;
			if (data > end) {
				if (q == end && k > 0)     /* the chain ran out of buffer exactly at its end */
					return p;
				break;
			}
			u64 record = buf + q;
			u64 fraction = field32(record + 4, swap != 0);
			u64 caplen = field32(record + 8, swap != 0);
			u64 wirelen = field32(record + 12, swap != 0);
			u64 following = data + caplen;
			if (!(fraction < fraction_limit && caplen != 0 && caplen <= limit && caplen <= wirelen
			      && wirelen <= SYNC_WIRELEN && following <= end))
				break;
			q = following;
			k++;
		}
	}
	return end;
}

/* the vm JIT's batch entry: runs the filter over n packets; returns the runs completed */
typedef u64 (*batch_filter)(u64 state, u64 hosts, u64 lengths, u64 n, u64 results);

/*
 * pcap_walk batch after batch (``stop`` as it leaves it), each batch run through
 * ``filter`` and its accepted records gathered into ``out``, which must have room for
 * every byte walked; returns the bytes written. stop[2] and stop[3] get the records
 * walked and accepted. A batch the filter does not finish stops everything with
 * STOP_FILTER (nothing of that batch is gathered or counted).
 */
u64 pcap_filter(u64 buf, u64 pos, u64 end, u64 swap, u64 limit, u64 max,
		u64 *offsets, u64 *caplens, u64 *wirelens, u64 *hosts, u64 *stop, u64 until,
		u64 filter, u64 state, u64 *results, u64 out)
{
	u64 written = 0, walked = 0, accepted = 0;
	for (;;) {
		u64 count = pcap_walk(buf, pos, end, swap, limit, max, offsets, caplens, wirelens, hosts, stop, until);
		u64 reason = stop[1];
		if (count == 0)
			break;
		u64 done = ((batch_filter)filter)(state, (u64)hosts, (u64)caplens, count, (u64)results);
		if (done < count) {
			stop[1] = STOP_FILTER;
			break;
		}
		u64 ones = 0;
		for (u64 i = 0; i < count; i++)
			ones += results[i] != 0;
		written += pcap_gather(buf, offsets, caplens, results, count, out + written);
		walked += count;
		accepted += ones;
		pos = stop[0];
		if (reason != STOP_FULL)
			break;
	}
	stop[2] = walked;
	stop[3] = accepted;
	return written;
}

/*
 * The verdict tallies of ``n`` runs of a packet program (``pybpf replay``'s summary:
 * no pass over NumPy arrays per batch). Run i's verdict is v = (results[i] + bias) mod
 * 2^32 -- r0's low 32 bits, shifted so that small negative tc actions count too; a run
 * the loop skipped (heads[i] == ``skipped``) counts in totals[0] instead. counts[v] is
 * incremented and the packet's length out added to sizes[v], taken as ``out`` says:
 * 0: tails[i] - heads[i] (XDP and tc: the packet the program left), 1: the smaller of
 * r0 and lengths[i] (a socket filter keeps that many bytes), 2: lengths[i] (cgroup skb
 * programs cannot change the packet). totals[1] gets every lengths[i]; a verdict seen
 * for the first time is appended to ``seen``, totals[2] counting them. Stops before the
 * first verdict at or above ``limit``; returns the runs tallied.
 */
u64 pcap_tally(const u64 *results, const u64 *heads, const u64 *tails, const u64 *lengths, u64 n, u64 skipped,
	       u64 bias, u64 out, u64 limit, u64 *counts, u64 *sizes, u64 *totals, u64 *seen)
{
	u64 i, errors = 0, bytes_in = 0;
	for (i = 0; i < n; i++) {
		u64 length = lengths[i];
		if (heads[i] == skipped) {
			errors++;
			bytes_in += length;
			continue;
		}
		u64 retval = results[i] & 0xFFFFFFFFull, verdict = (retval + bias) & 0xFFFFFFFFull;
		if (verdict >= limit)
			break;
		bytes_in += length;
		u64 size = out == 0 ? tails[i] - heads[i] : out == 1 ? (retval < length ? retval : length) : length;
		if (counts[verdict]++ == 0)
			seen[totals[2]++] = verdict;
		sizes[verdict] += size;
	}
	totals[0] += errors;
	totals[1] += bytes_in;
	return i;
}
