"""bpf_probe_read_kernel_str as the kernel runs it, on both engines: a source longer than
the buffer is cut to size - 1 bytes and a NUL (return: size), a shorter one copied with
its NUL (return: its length + 1); and a size the destination cannot hold is refused
before anything is allocated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pybpf
from pybpf.isa import assemble
from pybpf.vm import VMError, run_program

ENGINES = ["vm", pytest.param("kernel", marks=pytest.mark.skipif(os.geteuid() != 0, reason="the kernel engine needs root"))]

SOURCE = r"""
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, u32); __type(value, u64); } out SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int copy(void *ctx)
{
    char src[24] = "0123456789abcdefghij";     /* 20 characters and a NUL */
    char dst[SIZE];
    u32 k0 = 0, k1 = 1, k2 = 2;
    long n = bpf_probe_read_kernel_str(dst, sizeof(dst), src);
    u64 last = (u8)dst[sizeof(dst) - 1], first = (u8)dst[0];
    bpf_map_update_elem(&out, &k0, &n, BPF_ANY);
    bpf_map_update_elem(&out, &k1, &last, BPF_ANY);
    bpf_map_update_elem(&out, &k2, &first, BPF_ANY);
    return 0;
}
LICENSE("GPL");
"""


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("size, expected", [(8, (8, 0, ord("0"))), (21, (21, 0, ord("0"))), (32, (21, None, ord("0")))])
def test_string_reads_cut_as_the_kernel_cuts(module_cache, engine, size, expected):
    spec = pybpf.read(SOURCE, name="probe_str", defines={"SIZE": size})
    with pybpf.load(spec, engine=engine) as coll:
        coll.programs["copy"].test_run(ctx=bytes(16))
        n, last, first = (coll.maps["out"][i] for i in range(3))
    assert n == expected[0] and first == expected[2]
    if expected[1] is not None:
        assert last == expected[1]


@pytest.mark.parametrize("jit", [False, True])
def test_a_size_beyond_the_destination_is_an_invalid_write(jit):
    text = "r1 = r10\nr1 += -8\nr2 = 0x10000\nr3 = r10\nr3 += -16\ncall bpf_probe_read_kernel\nr0 = 0\nexit\n"
    with pytest.raises(VMError, match=r"invalid write of 65536 bytes|out-of-bounds write of 65536 bytes"):
        run_program(assemble(text), b"", jit=jit)
    huge = Path(__file__).resolve().parents[1] / "data" / "reproducers" / "probe_read_huge_size.asm"
    assert run_program(assemble(huge.read_text()), b"", jit=jit).retval == 0     # size is a u32: 0 here


RESERVE_ONLY = r"""
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } ring SEC(".maps");

SEC("socket")
int leak(struct __sk_buff *skb)
{
    void *record = bpf_ringbuf_reserve(&ring, 1000, 0);
    if (!record)
        return 0;            /* the ring is full */
    if (skb->len > 100)
        bpf_ringbuf_submit(record, 0);
    return 1;                /* short packets leave the record reserved */
}
LICENSE("GPL");
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_program_that_can_exit_holding_a_reservation_is_refused(module_cache, engine):
    """The kernel's verifier refuses a program that can exit holding a ring buffer
    reservation; so does the vm engine's (and the vm releases what a raw run leaves)."""
    with pytest.raises(pybpf.VerifierError, match=r"instruction 16"):
        pybpf.load(pybpf.read(RESERVE_ONLY, name="leak"), engine=engine)
