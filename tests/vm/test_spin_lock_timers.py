"""bpf_spin_lock and bpf_timer on the vm engine, against the kernel: a counter updated
under a lock, timers armed, fired, cancelled and freed with their element, and the
lock/timer fields of map values as userspace sees them (zero) and updates them
(BPF_F_LOCK, and copies that skip the fields) — the same return codes and final maps
on both engines. The vm fires due timers after each test run; the kernel fires them from
its softirq, so the kernel side waits for them."""

from __future__ import annotations

import errno
import os
import random
import threading
import time

import pytest

import pybpf
from pybpf.engine import BPFError
from pybpf.engine.map import UpdateFlag
from pybpf.vm import run_timers

ROOT = os.geteuid() == 0
pytestmark = pytest.mark.usefixtures("module_cache")
ENGINES = ["vm", "vm-interpreter"] + (["kernel"] if ROOT else [])

SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";

struct counter { __u64 hits; struct bpf_spin_lock lock; __u32 len_sum; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, struct counter); }
    counters SEC(".maps");
struct elem { __u64 fired; struct bpf_timer t; __u64 armed; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, struct elem); }
    timers SEC(".maps");

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, struct counter); }
    hashed SEC(".maps");

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, struct elem); }
    slots SEC(".maps");

struct locked_timer { __u64 fired; struct bpf_timer t; struct bpf_spin_lock lock; __u32 pad; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 2); __type(key, __u32); __type(value, struct locked_timer); }
    both SEC(".maps");

static int fire_both(void *map, __u32 *key, struct locked_timer *val) { val->fired += 100; return 0; }

static int cancel_self(void *map, __u32 *key, struct elem *val)
{
    val->armed = bpf_timer_cancel(&val->t) & 0xff;
    val->fired++;
    return 0;
}

static int fire(void *map, __u32 *key, struct elem *val) { val->fired += 1 + *key; return 0; }

SEC("tc") int count(struct __sk_buff *skb)
{
    __u32 k = skb->len & 1;
    struct counter *c = bpf_map_lookup_elem(&counters, &k);
    if (!c)
        return 0;
    bpf_spin_lock(&c->lock);
    c->hits++;
    c->len_sum += skb->len;
    bpf_spin_unlock(&c->lock);
    return 1;
}

/* a new element copied from a stack value whose lock bytes are all ones (the copy skips
   them: the element's lock is free), then counted under its lock */
SEC("tc") int hash_count(struct __sk_buff *skb)
{
    __u32 k = skb->len & 7;
    struct counter fresh;
    __builtin_memset(&fresh, 0xff, sizeof(fresh));
    fresh.hits = 0;
    fresh.len_sum = 0;
    bpf_map_update_elem(&hashed, &k, &fresh, BPF_NOEXIST);
    struct counter *c = bpf_map_lookup_elem(&hashed, &k);
    if (!c)
        return 0;
    bpf_spin_lock(&c->lock);
    c->hits++;
    c->len_sum += skb->len;
    bpf_spin_unlock(&c->lock);
    return 1;
}

static struct elem *element(__u32 k)
{
    struct elem init = {};
    bpf_map_update_elem(&timers, &k, &init, BPF_NOEXIST);
    return bpf_map_lookup_elem(&timers, &k);
}

/* the packet's length picks the element (len & 3) and the delay: 0 ns, or 50 ms for
   lengths of 100 and more; r0 packs the three helpers' results */
SEC("tc") int arm(struct __sk_buff *skb)
{
    struct elem *e = element(skb->len & 3);
    if (!e)
        return 0;
    long r1 = bpf_timer_init(&e->t, &timers, 1);
    long r2 = bpf_timer_set_callback(&e->t, fire);
    long r3 = bpf_timer_start(&e->t, skb->len >= 100 ? 50000000 : 0, 0);
    e->armed++;
    return (r1 & 0xff) | ((r2 & 0xff) << 8) | ((r3 & 0xff) << 16);
}

SEC("tc") int cancel(struct __sk_buff *skb)
{
    __u32 k = skb->len & 3;
    struct elem *e = bpf_map_lookup_elem(&timers, &k);
    if (!e)
        return 99;
    return bpf_timer_cancel(&e->t) & 0xff;
}

/* a timer that re-arms itself 1 ms later until it has fired three times (key 3), started
   at an absolute time (BPF_F_TIMER_ABS: now, or 50 ms later for lengths of 100 and more) */
static int again(void *map, __u32 *key, struct elem *val)
{
    if (++val->fired < 3)
        bpf_timer_start(&val->t, 1000000, 0);
    return 0;
}

SEC("tc") int periodic(struct __sk_buff *skb)
{
    struct elem *e = element(3);
    if (!e)
        return 0;
    bpf_timer_init(&e->t, &timers, 1);
    bpf_timer_set_callback(&e->t, again);
    e->armed++;
    return bpf_timer_start(&e->t, bpf_ktime_get_ns() + (skb->len >= 100 ? 50000000 : 0), BPF_F_TIMER_ABS) & 0xff;
}

/* a timer in an array element, 50 ms */
SEC("tc") int arm_slot(struct __sk_buff *skb)
{
    __u32 k = skb->len & 1;
    struct elem *e = bpf_map_lookup_elem(&slots, &k);
    if (!e)
        return 0;
    bpf_timer_init(&e->t, &slots, 1);
    bpf_timer_set_callback(&e->t, fire);
    return bpf_timer_start(&e->t, 50000000, 0) & 0xff;
}

/* the array element's timer started again, 0 ns (no callback set here: on the JIT) */
SEC("tc") int restart_slot(struct __sk_buff *skb)
{
    __u32 k = skb->len & 1;
    struct elem *e = bpf_map_lookup_elem(&slots, &k);
    if (!e)
        return 0;
    return bpf_timer_start(&e->t, 0, 0) & 0xff;
}

/* a timer whose callback cancels it (EDEADLK), on the array element len & 1 */
SEC("tc") int arm_self_cancel(struct __sk_buff *skb)
{
    __u32 k = skb->len & 1;
    struct elem *e = bpf_map_lookup_elem(&slots, &k);
    if (!e)
        return 0;
    bpf_timer_init(&e->t, &slots, 1);
    bpf_timer_set_callback(&e->t, cancel_self);
    return bpf_timer_start(&e->t, 0, 0) & 0xff;
}

/* a timer in a hash element that also holds a lock, 50 ms */
SEC("tc") int arm_both(struct __sk_buff *skb)
{
    __u32 k = 0;
    struct locked_timer init = {};
    bpf_map_update_elem(&both, &k, &init, BPF_NOEXIST);
    struct locked_timer *e = bpf_map_lookup_elem(&both, &k);
    if (!e)
        return 0;
    bpf_timer_init(&e->t, &both, 1);
    bpf_timer_set_callback(&e->t, fire_both);
    return bpf_timer_start(&e->t, 50000000, 0) & 0xff;
}

/* a timer started before a callback is set, and one started with unknown flags */
SEC("tc") int misuse(struct __sk_buff *skb)
{
    struct elem *e = element(skb->len & 3);
    if (!e)
        return 0;
    long r1 = bpf_timer_start(&e->t, 0, 0);
    long r2 = bpf_timer_init(&e->t, &timers, 5);
    long r3 = bpf_timer_init(&e->t, &timers, 1);
    long r4 = bpf_timer_start(&e->t, 0, 0);
    bpf_timer_set_callback(&e->t, fire);
    long r5 = bpf_timer_start(&e->t, 0, 8);
    return (r1 & 0xff) | ((r2 & 0xff) << 8) | ((r3 & 0xff) << 16) | ((r4 & 0xff) << 24);
}
"""


def _load(engine: str):
    if engine == "vm-interpreter":
        return pybpf.load(pybpf.read(SOURCE), engine="vm", jit=False)
    return pybpf.load(pybpf.read(SOURCE), engine=engine)


def _packet(length: int) -> bytes:
    return bytes(12) + b"\x88\xb5" + bytes(length - 14)      # a local-experimental ethertype


def _settle(engine: str, collection, done) -> None:
    """Wait (on the kernel) until ``done(collection)`` or a second has passed."""
    deadline = time.monotonic() + 1.0
    while engine == "kernel" and not done(collection) and time.monotonic() < deadline:
        time.sleep(0.01)


def _raw(table, key) -> bytes:
    return table.value_codec.encode(table[key])


def _snapshot(collection) -> tuple[dict, dict]:
    """The maps' elements: counters as (hits, len_sum, the lock's bytes), timers as
    (fired, armed, the timer's bytes) — the lock and timer as userspace reads them."""
    counters = {k: (v.hits, v.len_sum, _raw(collection.maps["counters"], k)[8:12])
                for k, v in collection.maps["counters"].items()}
    timers = {k: (v.fired, v.armed, _raw(collection.maps["timers"], k)[8:24])
              for k, v in collection.maps["timers"].items()}
    return counters, timers


def _outcomes(engine: str, plan: list[tuple[str, int]], wait_for=None):
    """The runs' results and the final maps; on the kernel each run is followed by a
    short wait, in which timers started with 0 ns fire (the vm fires them as each run ends)."""
    with _load(engine) as collection:
        results = []
        for name, length in plan:
            results.append(collection.programs[name].test_run(_packet(length)).retval)
            time.sleep(0.03 if engine == "kernel" and name != "count" else 0)
        if wait_for is not None:
            _settle(engine, collection, wait_for)
        else:
            time.sleep(0.12 if engine == "kernel" else 0)
            run_timers()
        return results, _snapshot(collection)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_counter_under_a_lock_agrees_with_the_kernel_model(engine):
    rng = random.Random(19)
    lengths = [rng.randrange(60, 200) for _ in range(40)]
    results, (counters, _) = _outcomes(engine, [("count", n) for n in lengths])
    assert results == [1] * len(lengths)
    expected = {k: (sum(1 for n in lengths if n & 1 == k), sum(n for n in lengths if n & 1 == k), bytes(4))
                for k in (0, 1)}
    assert counters == expected


def _fired(key: int, times: int):
    return lambda c: c.maps["timers"].get(key) is not None and c.maps["timers"][key].fired >= times


@pytest.mark.parametrize("engine", ENGINES)
def test_a_timer_started_with_0ns_fires_its_callback(engine):
    results, (_, timers) = _outcomes(engine, [("arm", 61), ("arm", 65), ("arm", 62)], _fired(1, 4))
    ebusy = -errno.EBUSY & 0xFF
    assert results == [0, ebusy, 0]
    # the callback adds 1 + key: key 1 was armed and fired twice, key 2 once
    assert timers == {1: (4, 2, bytes(16)), 2: (3, 1, bytes(16))}


def test_timers_agree_with_the_kernel():
    if not ROOT:
        pytest.skip("the kernel engine needs root (bpf())")
    plan = [("arm", 60), ("arm", 61), ("misuse", 62), ("arm", 60), ("cancel", 61), ("cancel", 63)]
    outcomes = [_outcomes(engine, plan, lambda c: _fired(0, 1)(c) and _fired(2, 3)(c)) for engine in ("vm", "kernel")]
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_misused_timers_fail_as_in_the_kernel(engine):
    results, _ = _outcomes(engine, [("misuse", 60)])
    einval = -errno.EINVAL & 0xFF
    assert results == [einval | einval << 8 | 0 << 16 | einval << 24]


@pytest.mark.parametrize("engine", ENGINES)
def test_cancel_stops_an_armed_timer(engine):
    with _load(engine) as collection:
        programs = collection.programs
        assert programs["arm"].test_run(_packet(101)).retval == 0            # key 1, 50 ms
        assert programs["cancel"].test_run(_packet(101)).retval == 1          # was armed
        assert programs["cancel"].test_run(_packet(101)).retval == 0          # no longer
        assert programs["cancel"].test_run(_packet(102)).retval == 99         # no element
        time.sleep(0.1 if engine == "kernel" else 0)
        if engine != "kernel":
            assert run_timers(later_ns=10**9) == 0
        assert collection.maps["timers"][1].fired == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_replaced_hash_element_takes_its_timer_with_it(engine):
    """A userspace update of a hash element puts a new element in its place: the old
    element's armed timer is freed with it and never fires (the new one has none)."""
    with _load(engine) as collection:
        assert collection.programs["arm"].test_run(_packet(101)).retval == 0
        timers = collection.maps["timers"]
        old = timers[1]
        assert _raw(timers, 1)[8:24] == bytes(16)
        timers.update(1, old)
        time.sleep(0.1 if engine == "kernel" else 0)
        if engine != "kernel":
            assert run_timers(later_ns=10**9) == 0
        assert timers[1].fired == 0
        assert collection.programs["cancel"].test_run(_packet(101)).retval == -errno.EINVAL & 0xFF


def test_run_timers_fires_what_is_due_later():
    with _load("vm") as collection:
        assert collection.programs["arm"].test_run(_packet(102)).retval == 0   # key 2, 50 ms
        assert run_timers() == 0
        assert collection.maps["timers"][2].fired == 0
        assert run_timers(later_ns=10**9) == 1
        assert collection.maps["timers"][2].fired == 3
        assert run_timers(later_ns=10**9) == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_userspace_sees_and_updates_values_without_their_lock(engine):
    with _load(engine) as collection:
        counters = collection.maps["counters"]
        codec = counters.value_codec
        raw = bytearray(_raw(counters, 0))
        raw[0:8] = (7).to_bytes(8, "little")
        raw[8:12] = b"\xff\xff\xff\xff"               # the lock: never copied into the map
        raw[12:16] = (5).to_bytes(4, "little")
        counters.update(0, codec.decode(bytes(raw)), UpdateFlag.LOCK)
        assert _raw(counters, 0) == (7).to_bytes(8, "little") + bytes(4) + (5).to_bytes(4, "little")
        counters.update(0, codec.decode(bytes(raw)))
        assert _raw(counters, 0)[8:12] == bytes(4)
        locked = counters.get(0, flags=UpdateFlag.LOCK)
        assert (locked.hits, locked.len_sum) == (7, 5)
        assert counters.get(9, "absent", flags=UpdateFlag.LOCK) == "absent"
        for table, flags in ((collection.maps["timers"], UpdateFlag.LOCK), (counters, 1)):
            with pytest.raises(BPFError) as refused:
                table.get(0, flags=flags)
            assert refused.value.errno == errno.EINVAL
        assert collection.programs["count"].test_run(_packet(60)).retval == 1
        assert (counters[0].hits, counters[0].len_sum) == (8, 65)
        with pytest.raises(BPFError) as refused:       # no spin lock in the timers' values
            collection.maps["timers"].update(0, collection.maps["timers"].value_codec.decode(bytes(32)),
                                             UpdateFlag.LOCK)
        assert refused.value.errno == errno.EINVAL
        with pytest.raises(BPFError) as refused:
            counters.update(0, codec.decode(bytes(raw)), 8)
        assert refused.value.errno == errno.EINVAL


@pytest.mark.parametrize("jit", [False, True])
def test_the_lock_excludes_runs_from_other_threads(jit):
    """Programs run from several Python threads at once update one value under its lock:
    no update is lost (the interpreter switches threads mid-program)."""
    with pybpf.load(pybpf.read(SOURCE), engine="vm", jit=jit) as collection:
        program = collection.programs["count"]

        def work() -> None:
            for _ in range(150):
                program.test_run(_packet(60))
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert collection.maps["counters"][0].hits == 600


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deleted_element_takes_its_timer_with_it(engine):
    with _load(engine) as collection:
        assert collection.programs["arm"].test_run(_packet(103)).retval == 0     # key 3, 50 ms
        del collection.maps["timers"][3]
        assert collection.programs["arm"].test_run(_packet(7 * 16 + 3)).retval == 0   # a new key 3, 50 ms
        assert collection.programs["cancel"].test_run(_packet(103)).retval == 1
        time.sleep(0.1 if engine == "kernel" else 0)
        if engine != "kernel":
            assert run_timers(later_ns=10**9) == 0
        assert collection.maps["timers"][3].fired == 0


PLAIN_LOCK = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
struct v { __u64 a; struct bpf_spin_lock f; };
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 2); __type(key, __u32); __type(value, struct v); }
    lru SEC(".maps");
"""
LOCKS_LRU = PLAIN_LOCK + r"""
SEC("tc") int p(struct __sk_buff *skb)
{ __u32 k = 0; struct v *e = bpf_map_lookup_elem(&lru, &k); if (!e) return 0;
  bpf_spin_lock(&e->f); e->a++; bpf_spin_unlock(&e->f); return 0; }
"""


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "vm-interpreter"])
def test_a_spin_lock_where_the_kernel_allows_none_is_plain_bytes(engine):
    """The kernel refuses a spin lock in an LRU hash's value (EOPNOTSUPP); the map is
    made without BTF, as libbpf does: its lock is plain bytes, and a program locking it
    is refused."""
    with pybpf.load(pybpf.read(PLAIN_LOCK), engine=engine) as collection:
        lru = collection.maps["lru"]
        value = lru.value_codec.decode(bytes(range(1, 17)))
        lru.update(0, value)
        assert lru.value_codec.encode(lru[0])[:12] == bytes(range(1, 13))   # (4 bytes of padding)
        with pytest.raises(BPFError):
            lru.update(0, value, UpdateFlag.LOCK)
    with pytest.raises(pybpf.errors.VerifierError):
        pybpf.load(pybpf.read(LOCKS_LRU), engine=engine).close()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_value_copied_into_a_hash_leaves_its_lock_behind(engine):
    rng = random.Random(7)
    lengths = [rng.randrange(60, 120) for _ in range(30)]
    with _load(engine) as collection:
        assert [collection.programs["hash_count"].test_run(_packet(n)).retval for n in lengths] == [1] * 30
        hashed = collection.maps["hashed"]
        seen = {k: (v.hits, v.len_sum, _raw(hashed, k)[8:12]) for k, v in hashed.items()}
    assert seen == {k: (sum(1 for n in lengths if n & 7 == k), sum(n for n in lengths if n & 7 == k), bytes(4))
                    for k in {n & 7 for n in lengths}}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_callback_re_arms_its_timer(engine):
    with _load(engine) as collection:
        assert collection.programs["periodic"].test_run(_packet(60)).retval == 0
        if engine == "kernel":
            _settle(engine, collection, _fired(3, 3))
        else:
            assert collection.maps["timers"][3].fired == 1          # the run fired it at its end
            assert [run_timers(later_ns=10**7) for _ in range(3)] == [1, 1, 0]
        assert (collection.maps["timers"][3].fired, collection.maps["timers"][3].armed) == (3, 1)


def test_an_absolute_deadline_waits_for_its_time():
    with _load("vm") as collection:
        assert collection.programs["periodic"].test_run(_packet(100)).retval == 0
        assert run_timers(later_ns=10**7) == 0                      # due 50 ms from the run
        assert run_timers(later_ns=10**8) == 1
        assert collection.maps["timers"][3].fired == 1


def test_native_packet_batches_count_under_the_lock():
    """The JIT's native loop over packets (run_packets) calls the lock helpers as test
    runs do, and agrees with them."""
    lengths = list(range(60, 160, 3))
    with _load("vm") as collection:
        outcomes = collection.programs["count"].run_packets([_packet(n) for n in lengths])
        if outcomes is None:
            pytest.skip("the JIT's native packet loop is unavailable here")
        assert [r for r, _ in outcomes] == [1] * len(lengths)
        counters = collection.maps["counters"]
        assert [(counters[k].hits, counters[k].len_sum) for k in (0, 1)] == [
            (sum(1 for n in lengths if n & 1 == k), sum(n for n in lengths if n & 1 == k)) for k in (0, 1)]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_array_element_keeps_its_timer_through_userspace_updates(engine):
    """An array element is updated in place, and the kernel frees its timer (the copy
    skips it, then bpf_obj_free_fields cancels it): it never fires."""
    with _load(engine) as collection:
        assert collection.programs["arm_slot"].test_run(_packet(61)).retval == 0
        slots = collection.maps["slots"]
        slots.update(1, slots.value_codec.decode((40).to_bytes(8, "little") + bytes(range(1, 17)) + bytes(8)))
        assert _raw(slots, 1)[:24] == (40).to_bytes(8, "little") + bytes(16)
        time.sleep(0.1 if engine == "kernel" else 0)
        if engine != "kernel":
            assert run_timers(later_ns=10**9) == 0
        assert slots[1].fired == 40
        assert collection.programs["arm_slot"].test_run(_packet(61)).retval == 0   # initialised anew



@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("flags", [UpdateFlag.ANY, UpdateFlag.LOCK])
def test_a_locked_update_of_a_hash_element_keeps_its_timer(engine, flags):
    """BPF_F_LOCK copies into the hash element in place (its timer still fires); a plain
    update puts a new element in its place (the timer is freed with the old one)."""
    with _load(engine) as collection:
        assert collection.programs["arm_both"].test_run(_packet(60)).retval == 0
        table = collection.maps["both"]
        table.update(0, table.value_codec.decode((5).to_bytes(8, "little") + bytes(24)), flags)
        expected = 105 if flags == UpdateFlag.LOCK else 5
        if engine == "kernel":
            _settle(engine, collection, lambda c: c.maps["both"][0].fired == expected) if expected == 105 \
                else time.sleep(0.1)
        else:
            assert run_timers(later_ns=10**9) == (flags == UpdateFlag.LOCK)
        assert table[0].fired == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_a_program_without_callbacks_restarts_a_timer(engine):
    """bpf_timer_start from a program that sets no callback (the vm runs it on the JIT,
    whose lookups may map the whole array) re-arms the timer another program set up."""
    with _load(engine) as collection:
        programs = collection.programs
        einval = -errno.EINVAL & 0xFF
        assert programs["restart_slot"].test_run(_packet(60)).retval == einval     # not initialised
        assert programs["arm_slot"].test_run(_packet(60)).retval == 0              # 50 ms
        assert programs["restart_slot"].test_run(_packet(60)).retval == 0          # now
        _settle(engine, collection, lambda c: c.maps["slots"][0].fired == 1)
        assert collection.maps["slots"][0].fired == 1
        if engine == "vm":
            assert programs["restart_slot"].compiled() is not None


def test_a_run_that_fails_inside_its_critical_section_releases_the_lock():
    """A run stopped by an error while it holds the lock (here: an unlock that faults)
    releases it, so later runs and BPF_F_LOCK copies do not wait for ever."""
    from pybpf.isa.helpers import helper_id
    from pybpf.vm import HELPERS, VMError
    from pybpf.vm.locking import SPIN_LOCK

    number = helper_id("bpf_spin_unlock")
    original = HELPERS[number]

    def faulty(vm, *_):
        raise VMError("an unlock that faults")

    with pybpf.load(pybpf.read(SOURCE), engine="vm", jit=False) as collection:
        HELPERS[number] = faulty
        try:
            with pytest.raises(VMError, match="an unlock that faults"):
                collection.programs["count"].test_run(_packet(60))
        finally:
            HELPERS[number] = original
        assert not SPIN_LOCK.locked()
        assert collection.programs["count"].test_run(_packet(60)).retval == 1
        assert collection.maps["counters"].get(0, flags=UpdateFlag.LOCK).hits == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_a_callback_cancelling_its_own_timer_gets_edeadlk(engine):
    with _load(engine) as collection:
        assert collection.programs["arm_self_cancel"].test_run(_packet(61)).retval == 0
        _settle(engine, collection, lambda c: c.maps["slots"][1].fired == 1)
        slot = collection.maps["slots"][1]
        assert (slot.fired, slot.armed) == (1, -errno.EDEADLK & 0xFF)
