"""Tail calls as the kernel makes them, on both engines: the 34th bpf_tail_call fails and
returns to its caller, and a chain shares the context and the packet (skb->cb[],
skb->mark, packet writes, bpf_xdp_adjust_head carry over)."""

from __future__ import annotations

import os

import pytest

import pybpf

ENGINES = ["vm", pytest.param("kernel", marks=pytest.mark.skipif(os.geteuid() != 0, reason="the kernel engine needs root"))]

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 8); __type(key, u32); __type(value, u32); } jmp SEC(".maps");
/* a program array serves programs of one type (the kernel ties it to the first loaded) */
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 8); __type(key, u32); __type(value, u32); } xjmp SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } hops SEC(".maps");

SEC("tc")
int self_loop(struct __sk_buff *skb)
{
    u32 k = 0;
    u64 *n = bpf_map_lookup_elem(&hops, &k);
    if (n)
        __sync_fetch_and_add(n, 1);
    bpf_tail_call(skb, &jmp, 0);
    return 7;
}

SEC("tc")
int first(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    if (data + 20 > end)
        return 1;
    ((unsigned char *)data)[19] = 0x5a;
    skb->cb[0] = 42;
    skb->mark = 5;
    bpf_tail_call(skb, &jmp, 2);
    return 1;
}

SEC("tc")
int second(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    if (data + 20 > end)
        return 2;
    return skb->cb[0] * 100 + skb->mark + ((unsigned char *)data)[19] * 10000;
}

SEC("xdp")
int push(struct xdp_md *ctx)
{
    if (bpf_xdp_adjust_head(ctx, -8))
        return XDP_ABORTED;
    bpf_tail_call(ctx, &xjmp, 4);
    return XDP_DROP;
}

SEC("xdp")
int measure(struct xdp_md *ctx)
{
    return ctx->data_end - ctx->data;      /* the packet as the first program left it */
}
LICENSE("GPL");
"""


@pytest.fixture(scope="module")
def spec(module_cache):
    return pybpf.read(SOURCE, name="chains")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_34th_tail_call_fails_and_returns(spec, engine):
    with pybpf.load(spec, engine=engine) as coll:
        coll.maps["jmp"][0] = coll.programs["self_loop"]
        assert coll.programs["self_loop"].test_run(bytes(64)).retval == 7
        assert coll.maps["hops"][0] == 34          # the first run and 33 tail calls


@pytest.mark.parametrize("engine", ENGINES)
def test_a_chain_shares_context_and_packet(spec, engine):
    with pybpf.load(spec, engine=engine) as coll:
        coll.maps["jmp"][2] = coll.programs["second"]
        result = coll.programs["first"].test_run(bytes(64))
        assert result.retval == 0x5a * 10000 + 42 * 100 + 5
        assert result.data_out[19] == 0x5a


@pytest.mark.parametrize("engine", ENGINES)
def test_xdp_adjust_head_survives_a_tail_call(spec, engine):
    with pybpf.load(spec, engine=engine) as coll:
        coll.maps["xjmp"][4] = coll.programs["measure"]
        result = coll.programs["push"].test_run(bytes(64))
        assert result.retval == 72 and len(result.data_out) == 72
