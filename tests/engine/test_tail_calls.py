"""Tail calls as the kernel makes them, on every engine that runs here: the 34th
bpf_tail_call of a chain fails and returns to its caller, which goes on; the tail-called
program sees the same context (skb->cb[], skb->mark), the same packet bytes, and an XDP
frame as bpf_xdp_adjust_head left it."""

from __future__ import annotations

import pytest

from pybpf.engine import load
from pybpf.object.elf import load_object
from pybpf.toolchain import CompileError, compile_c

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 8);
         __type(key, __u32); __type(value, __u32); } jmp SEC(".maps");
/* a program array serves one program type: the XDP programs have their own */
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 1);
         __type(key, __u32); __type(value, __u32); } xjmp SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
         __type(key, __u32); __type(value, __u64); } hops SEC(".maps");

SEC("tc") int self_loop(struct __sk_buff *skb)      /* slot 0 */
{
    __u32 k = 0;
    __u64 *n = bpf_map_lookup_elem(&hops, &k);
    if (n) __sync_fetch_and_add(n, 1);
    bpf_tail_call(skb, &jmp, 0);
    return 7;
}

SEC("tc") int first(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    if (data + 20 > end) return 99;
    ((__u8 *)data)[19] = 0xab;                 /* a packet write */
    skb->cb[0] = 42;
    skb->cb[4] = 3;
    skb->mark = 5;
    bpf_tail_call(skb, &jmp, 2);
    return 1;
}

SEC("tc") int second(struct __sk_buff *skb)         /* slot 2 */
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    if (data + 20 > end) return 98;
    return skb->cb[0] * 10000 + skb->cb[4] * 1000 + skb->mark * 256 + ((__u8 *)data)[19];
}

SEC("xdp") int xdp_first(struct xdp_md *ctx)
{
    if (bpf_xdp_adjust_head(ctx, 4)) return 90;
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 1 > end) return 91;
    *(__u8 *)data = 0x5a;
    bpf_tail_call(ctx, &xjmp, 0);
    return 92;
}

SEC("xdp") int xdp_second(struct xdp_md *ctx)      /* xjmp slot 0 */
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 1 > end) return 93;
    return (end - data) * 256 + *(__u8 *)data;
}
char LICENSE[] SEC("license") = "GPL";
"""

PACKET = bytes(12) + b"\x08\x00" + bytes(range(50))


@pytest.fixture(scope="module")
def spec():
    try:
        return load_object(compile_c(SOURCE), name="tail_calls")
    except CompileError as exc:
        if "cannot run the compiler" in str(exc):
            pytest.skip(f"the ziglang clang cannot run here: {exc}")
        raise


def test_the_34th_tail_call_fails_and_its_caller_goes_on(engine, spec):
    with load(spec, engine=engine) as coll:
        coll.maps["jmp"][0] = coll.programs["self_loop"]
        assert coll.programs["self_loop"].test_run(PACKET).retval == 7
        assert coll.maps["hops"][0] == 34      # the first run and 33 tail calls


def test_context_and_packet_survive_a_tail_call(engine, spec):
    with load(spec, engine=engine) as coll:
        coll.maps["jmp"][2] = coll.programs["second"]
        result = coll.programs["first"].test_run(PACKET)
        assert result.retval == 42 * 10000 + 3 * 1000 + 5 * 256 + 0xAB
        assert result.data_out[19] == 0xAB


def test_xdp_adjust_head_survives_a_tail_call(engine, spec):
    with load(spec, engine=engine) as coll:
        coll.maps["xjmp"][0] = coll.programs["xdp_second"]
        result = coll.programs["xdp_first"].test_run(PACKET)
        assert result.retval == (len(PACKET) - 4) * 256 + 0x5A
        assert result.data_out == b"\x5a" + PACKET[5:]


def test_a_failed_tail_call_into_an_empty_slot_goes_on(engine, spec):
    with load(spec, engine=engine) as coll:
        assert coll.programs["first"].test_run(PACKET).retval == 1
