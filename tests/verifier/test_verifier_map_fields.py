"""Map values with fields only helpers may touch, found in the map's BTF: a
``bpf_spin_lock`` (``bpf_spin_lock``/``bpf_spin_unlock``: calls and exits while it is
held, a second lock, an unlock of another or of none) and a ``bpf_timer``
(``bpf_timer_init``/``set_callback``/``start``/``cancel``: the timer's own map, its
callback verified on its own and returning 0), direct access to either, and the program
types that may not use such maps — each C program judged by pybpf and, as root, by the
kernel (``pybpf verify --compare``)."""

from __future__ import annotations

import json

import pytest

from pybpf.isa.assembler import assemble
from pybpf.object import MapType, ProgramType
from pybpf.verifier import MapInfo, verify

SPIN_SOURCE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct val { int count; struct bpf_spin_lock lock; long total; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct val); }
	locked SEC(".maps");
struct plain { int count; int pad; long total; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, u32); __type(value, struct plain); }
	unlocked SEC(".maps");

static struct val *value(void) { u32 k = 0; return bpf_map_lookup_elem(&locked, &k); }

SEC("tc") int lock_ok(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); v->count++; bpf_spin_unlock(&v->lock); return 0; }
SEC("tc") int held_at_exit(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); v->count++; return 0; }
SEC("tc") int call_while_locked(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); v->count = bpf_get_prandom_u32(); bpf_spin_unlock(&v->lock); return 0; }
SEC("tc") int lock_twice(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); bpf_spin_lock(&v->lock); bpf_spin_unlock(&v->lock); return 0; }
SEC("tc") int unlock_unlocked(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_unlock(&v->lock); return 0; }
SEC("tc") int wrong_offset(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock((struct bpf_spin_lock *)&v->total); bpf_spin_unlock((struct bpf_spin_lock *)&v->total); return 0; }
SEC("tc") int no_lock_in_value(struct __sk_buff *skb)
{ u32 k = 0; struct plain *p = bpf_map_lookup_elem(&unlocked, &k); if (!p) return 0; bpf_spin_lock((struct bpf_spin_lock *)p); bpf_spin_unlock((struct bpf_spin_lock *)p); return 0; }
SEC("tc") int read_the_lock(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; return *(volatile u32 *)&v->lock; }
SEC("tc") int lock_on_stack(struct __sk_buff *skb)
{ struct bpf_spin_lock l = {}; bpf_spin_lock(&l); bpf_spin_unlock(&l); return 0; }
SEC("tc") int lock_maybe_null(struct __sk_buff *skb)
{ struct val *v = value(); bpf_spin_lock(&v->lock); bpf_spin_unlock(&v->lock); return 0; }
char LICENSE[] SEC("license") = "GPL";
static struct val *value_at(u32 k) { return bpf_map_lookup_elem(&locked, &k); }
SEC("tc") int unlock_other(struct __sk_buff *skb)
{ struct val *a = value_at(0), *b = value_at(0); if (!a || !b) return 0; bpf_spin_lock(&a->lock); bpf_spin_unlock(&b->lock); return 0; }
SEC("tc") int write_the_lock(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; *(volatile u32 *)&v->lock = 1; return 0; }
SEC("tc") int helper_reads_lock(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_probe_read_kernel(v, 8, (void *)skb); return 0; }
SEC("tc") int branches_locked(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); if (skb->len > 100) v->count++; else v->total++; bpf_spin_unlock(&v->lock); return 0; }
SEC("tc") int unlock_on_one_path(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); if (skb->len > 100) { bpf_spin_unlock(&v->lock); return 1; } return 0; }
static __noinline int bump(struct val *v) { v->count++; return 0; }
SEC("tc") int subprog_call_locked(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); bump(v); bpf_spin_unlock(&v->lock); return 0; }
SEC("socket") int socket_lock(struct __sk_buff *skb)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); bpf_spin_unlock(&v->lock); return 0; }
SEC("kprobe/do_nanosleep") int kprobe_lock(void *ctx)
{ struct val *v = value(); if (!v) return 0; bpf_spin_lock(&v->lock); bpf_spin_unlock(&v->lock); return 0; }
SEC("xdp") int xdp_lock(struct xdp_md *ctx)
{ struct val *v = value(); if (!v) return 2; bpf_spin_lock(&v->lock); v->count++; bpf_spin_unlock(&v->lock); return 2; }
"""

#: section → the kernel's message ('' when it accepts)
SPIN_EXPECTED = {
    "lock_ok": "",
    "held_at_exit": "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
    "call_while_locked": "function calls are not allowed while holding a lock",
    "lock_twice": "function calls are not allowed while holding a lock",
    "unlock_unlocked": "bpf_spin_unlock without taking a lock",
    "wrong_offset": "off 8 doesn't point to 'struct bpf_spin_lock' that is at 4",
    "no_lock_in_value": "map 'unlocked' has no valid bpf_spin_lock",
    "read_the_lock": "bpf_spin_lock cannot be accessed directly by load/store",
    "lock_on_stack": "R1 type=fp expected=map_value, ptr_",
    "lock_maybe_null": "",
    "unlock_other": "bpf_spin_unlock of different lock",
    "write_the_lock": "bpf_spin_lock cannot be accessed directly by load/store",
    "helper_reads_lock": "bpf_spin_lock cannot be accessed directly by load/store",
    "branches_locked": "",
    "unlock_on_one_path": "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
    "subprog_call_locked": "",
    "socket_lock": "socket filter progs cannot use bpf_spin_lock yet",
    "kprobe_lock": "tracing progs cannot use bpf_spin_lock yet",
    "xdp_lock": "",
}


TIMER_SOURCE = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct elem { int count; struct bpf_timer t; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct elem); }
	timers SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, u32); __type(value, struct elem); }
	other SEC(".maps");
struct plain { int count; int pad; long total; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct plain); }
	plain SEC(".maps");

static int fire(void *map, int *key, struct elem *val) { val->count++; return 0; }
static int fire_bad(void *map, int *key, struct elem *val) { return 1; }
static struct elem *value(void) { u32 k = 0; return bpf_map_lookup_elem(&timers, &k); }

SEC("tc") int timer_ok(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_init(&e->t, &timers, 1); bpf_timer_set_callback(&e->t, fire); bpf_timer_start(&e->t, 1000, 0); return 0; }
SEC("tc") int timer_wrong_map(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_init(&e->t, &other, 1); return 0; }
SEC("tc") int timer_bad_callback(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_init(&e->t, &timers, 1); bpf_timer_set_callback(&e->t, fire_bad); return 0; }
SEC("tc") int timer_read(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; return *(volatile u64 *)&e->t; }
SEC("tc") int timer_no_timer(struct __sk_buff *skb)
{ u32 k = 0; struct plain *p = bpf_map_lookup_elem(&plain, &k); if (!p) return 0; bpf_timer_init((struct bpf_timer *)p, &plain, 1); return 0; }
SEC("tc") int timer_offset(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_init((struct bpf_timer *)&e->count, &timers, 1); return 0; }
SEC("kprobe/do_nanosleep") int timer_kprobe(void *ctx)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_start(&e->t, 1000, 0); return 0; }
SEC("socket") int timer_socket(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_start(&e->t, 1000, 0); return 0; }
SEC("xdp") int timer_cancel(struct xdp_md *ctx)
{ struct elem *e = value(); if (!e) return 2; bpf_timer_cancel(&e->t); return 2; }
char LICENSE[] SEC("license") = "GPL";
static int fire_reads_key(void *map, int *key, struct elem *val) { val->count = *key; return 0; }
static int fire_past_key(void *map, int *key, struct elem *val) { val->count = key[1]; return 0; }
SEC("tc") int callback_reads_key(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_set_callback(&e->t, fire_reads_key); return 0; }
SEC("tc") int callback_past_key(struct __sk_buff *skb)
{ struct elem *e = value(); if (!e) return 0; bpf_timer_set_callback(&e->t, fire_past_key); return 0; }
SEC("tc") int timer_on_stack(struct __sk_buff *skb)
{ struct bpf_timer t = {}; bpf_timer_start(&t, 1, 0); return 0; }
"""

TIMER_EXPECTED = {
    "timer_ok": "",
    "timer_wrong_map": "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0",
    "timer_bad_callback": "At async callback return the register R0 has smin=1 smax=1 should have been in [0, 0]",
    "timer_read": "bpf_timer cannot be accessed directly by load/store",
    "timer_no_timer": "map 'plain' has no valid bpf_timer",
    "timer_offset": "off 0 doesn't point to 'struct bpf_timer' that is at 8",
    "timer_kprobe": "tracing progs cannot use bpf_timer yet",
    "timer_socket": "",
    "timer_cancel": "",
    "callback_reads_key": "",
    "callback_past_key": "R2 min value is outside of the allowed memory range",
    "timer_on_stack": "R1 type=fp expected=map_value",
}
SOURCES = {"spin": (SPIN_SOURCE, SPIN_EXPECTED), "timer": (TIMER_SOURCE, TIMER_EXPECTED)}
CASES = [(source, section) for source, (_, expected) in SOURCES.items() for section in sorted(expected)]


@pytest.fixture(scope="module")
def c_programs(tmp_path_factory):
    """source name → the C file."""
    made = {}
    for name, (text, _) in SOURCES.items():
        made[name] = tmp_path_factory.mktemp("verifierfields") / f"verifier{name}.bpf.c"
        made[name].write_text(text)
    return made


@pytest.mark.parametrize(("source", "section"), CASES)
def test_map_field_programs(c_programs, capsys, source, section):
    from pybpf.cli import main

    expected = SOURCES[source][1][section]
    status = main(["verify", str(c_programs[source]), "--section", section, "--json"])
    row = json.loads(capsys.readouterr().out)
    assert (row["accepted"], row["message"]) == (not expected, expected)
    assert status == (0 if row["accepted"] else 1)


def test_map_field_programs_against_the_kernel(c_programs, capsys):
    """Every section loaded by the kernel (root): the same verdict, message and errno."""
    from pybpf.cli import main
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    differ = []
    for source, section in CASES:
        main(["verify", str(c_programs[source]), "--section", section, "--compare", "--json"])
        row = json.loads(capsys.readouterr().out)
        ours = (row["accepted"], row["message"], row.get("errno") or None)
        theirs = (row["kernel"]["accepted"], row["kernel"]["message"], row["kernel"].get("errno") or None)
        if ours != theirs:
            differ.append((source, section, ours, theirs))
    assert not differ


def test_a_map_without_btf_has_no_lock():
    """Without the map's BTF the kernel cannot know where a lock is (and neither can
    pybpf): ``bpf_spin_lock`` on such a map value is refused."""
    maps = {1: MapInfo(1, MapType.ARRAY, 4, 16, 1, name="nobtf")}
    text = ("*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:1]\ncall bpf_map_lookup_elem\n"
            "r1 = r0\ncall bpf_spin_lock\nr0 = 0\nexit")
    verdict = verify(assemble(text), ProgramType.SCHED_CLS, maps)
    assert (verdict.message, verdict.errno) == ("map 'nobtf' has to have BTF in order to use bpf_spin_lock", 22)


def test_a_variable_offset_lock_is_refused():
    maps = {1: MapInfo(1, MapType.ARRAY, 4, 16, 1, name="withlock", btf=True, spin_lock=0)}
    text = ("*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:1]\ncall bpf_map_lookup_elem\n"
            "if r0 == 0 goto +6\nr6 = r0\ncall bpf_get_prandom_u32\nr0 &= 4\nr6 += r0\nr1 = r6\n"
            "call bpf_spin_lock\nr0 = 0\nexit")
    verdict = verify(assemble(text), ProgramType.SCHED_CLS, maps)
    assert verdict.message == "R1 doesn't have constant offset. bpf_spin_lock has to be at the constant offset"
