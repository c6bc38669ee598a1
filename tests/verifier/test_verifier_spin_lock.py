"""``bpf_spin_lock``/``bpf_spin_unlock`` in :mod:`pybpf.verifier`: the lock in a map
value (found in the map's BTF), calls and exits while it is held, a second lock, an
unlock of another or of none, direct access to the lock, and the program types that may
not use such maps — each C program judged by pybpf and, as root, by the kernel
(``pybpf verify --compare``)."""

from __future__ import annotations

import json

import pytest

from pybpf.isa.assembler import assemble
from pybpf.object import MapType, ProgramType
from pybpf.verifier import MapInfo, verify

C_SOURCE = r"""
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
EXPECTED = {
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


@pytest.fixture(scope="module")
def c_program(tmp_path_factory):
    path = tmp_path_factory.mktemp("verifierspin") / "verifierspin.bpf.c"
    path.write_text(C_SOURCE)
    return path


@pytest.mark.parametrize("section", sorted(EXPECTED))
def test_spin_lock_programs(c_program, capsys, section):
    from pybpf.cli import main

    status = main(["verify", str(c_program), "--section", section, "--json"])
    row = json.loads(capsys.readouterr().out)
    assert (row["accepted"], row["message"]) == (not EXPECTED[section], EXPECTED[section])
    assert status == (0 if row["accepted"] else 1)


def test_spin_lock_programs_against_the_kernel(c_program, capsys):
    """Every section loaded by the kernel (root): the same verdict, message and errno."""
    from pybpf.cli import main
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    differ = []
    for section in sorted(EXPECTED):
        main(["verify", str(c_program), "--section", section, "--compare", "--json"])
        row = json.loads(capsys.readouterr().out)
        ours = (row["accepted"], row["message"], row.get("errno") or None)
        theirs = (row["kernel"]["accepted"], row["kernel"]["message"], row["kernel"].get("errno") or None)
        if ours != theirs:
            differ.append((section, ours, theirs))
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
