"""The packet helpers a tc or XDP program rewrites headers with — skb_store_bytes, the
checksum helpers, csum_diff, skb_load_bytes(_relative), skb_pull_data, the redirects,
xdp_load/store_bytes, xdp_get_buff_len — give the same verdicts, packets and maps on the
vm engine as in the kernel's BPF_PROG_TEST_RUN, on generated packets (edge offsets,
truncated frames, UDP with and without a checksum)."""

from __future__ import annotations

import os
import random
import struct

import pytest

import pybpf

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")
pytestmark = pytest.mark.usefixtures("module_cache")

TC_C = r"""
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 16); __type(key, __u32); __type(value, __s64); } rc SEC(".maps");

static __always_inline void note(__u32 slot, __s64 value)
{
    __s64 *v = bpf_map_lookup_elem(&rc, &slot);
    if (v)
        *v += value;
}

#define IP_DST 30
#define IP_CSUM 24
#define L4 34

SEC("tc")
int rewrite(struct __sk_buff *skb)
{
    __u8 head[40] = {};
    note(0, bpf_skb_load_bytes(skb, 0, head, sizeof(head)));
    __u8 mac[6] = {}, net[4] = {};
    note(1, bpf_skb_load_bytes_relative(skb, 6, mac, sizeof(mac), BPF_HDR_START_MAC));
    note(2, bpf_skb_load_bytes_relative(skb, 12, net, sizeof(net), BPF_HDR_START_NET));
    note(3, mac[5] + net[3]);
    note(4, bpf_skb_pull_data(skb, skb->len + (head[39] & 1)));
    if (head[12] != 0x08 || head[13] != 0x00 || (head[14] & 0xf0) != 0x40)
        return bpf_redirect(head[0], head[1] & 3);
    __u8 proto = head[23];
    __u32 old_dst, new_dst = bpf_htonl(0x0a090807);
    old_dst = *(__u32 *)&head[IP_DST];
    note(5, bpf_skb_store_bytes(skb, IP_DST, &new_dst, 4, head[2] & 3));
    note(6, bpf_l3_csum_replace(skb, IP_CSUM, old_dst, new_dst, 4));
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
        __u32 csum_at = L4 + (proto == IPPROTO_TCP ? 16 : 6);
        __u64 flags = BPF_F_PSEUDO_HDR | 4 | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
        note(7, bpf_l4_csum_replace(skb, csum_at, old_dst, new_dst, flags));
        __u16 old_port = *(__u16 *)&head[L4 + 2], new_port = bpf_htons(8080);
        note(8, bpf_skb_store_bytes(skb, L4 + 2, &new_port, 2, 0));
        note(9, bpf_l4_csum_replace(skb, csum_at, old_port, new_port, 2));
    }
    /* a checksum difference over the source address, applied with size 0 */
    __u32 from[2] = { *(__u32 *)&head[26], 0 }, to[2] = { bpf_htonl(0xc0a80001), 0 };
    __s64 diff = bpf_csum_diff(from, 8, to, 8, head[3]);
    note(10, diff & 0xffff);
    note(11, bpf_skb_store_bytes(skb, 26, &to[0], 4, 0));
    note(12, bpf_l3_csum_replace(skb, IP_CSUM, 0, bpf_csum_diff(from, 4, to, 4, 0), 0));
    /* edges: past the end, odd offsets, bad flags, bad sizes */
    __u32 word = 0xdeadbeef;
    note(13, bpf_skb_store_bytes(skb, skb->len - 2, &word, 4, 0));
    note(14, bpf_l3_csum_replace(skb, 25, 0, 1, 2) + bpf_l3_csum_replace(skb, IP_CSUM, 0, 1, 3)
             + bpf_l4_csum_replace(skb, skb->len, 0, 1, 2) + bpf_skb_store_bytes(skb, 0, &word, 4, 8));
    note(15, bpf_csum_diff(from, 3, to, 4, 0) + bpf_csum_diff(0, 0, to, 8, 0xffffffff));
    return head[5] & 1 ? bpf_redirect(7, head[4] & 1) : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
"""

XDP_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_DEVMAP); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } ports SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __s64); } rc SEC(".maps");

static __always_inline void note(__u32 slot, __s64 value)
{
    __s64 *v = bpf_map_lookup_elem(&rc, &slot);
    if (v)
        *v += value;
}

SEC("xdp")
int bounce(struct xdp_md *ctx)
{
    __u8 head[16] = {};
    __u64 len = bpf_xdp_get_buff_len(ctx);
    note(0, len);
    note(1, bpf_xdp_load_bytes(ctx, 0, head, sizeof(head)));
    note(2, bpf_xdp_load_bytes(ctx, len - 4, head, 8));
    __u8 swapped[12];
    __builtin_memcpy(swapped, head + 6, 6);
    __builtin_memcpy(swapped + 6, head, 6);
    note(3, bpf_xdp_store_bytes(ctx, 0, swapped, sizeof(swapped)));
    note(4, bpf_xdp_store_bytes(ctx, len - 2, swapped, 4));
    __u32 words[2] = { *(__u32 *)head, *(__u32 *)(head + 4) };
    note(5, bpf_csum_diff(0, 0, words, 8, 0));
    switch (head[13] & 3) {
    case 0: return bpf_redirect_map(&ports, head[12] & 7, XDP_PASS);
    case 1: return bpf_redirect_map(&ports, head[12] & 7, head[11] & 0x1f);
    case 2: return bpf_redirect(head[12], head[11] & 1);
    default: return XDP_TX;
    }
}

char LICENSE[] SEC("license") = "GPL";
"""

SOCKET_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");

SEC("socket")
int peek(struct __sk_buff *skb)
{
    __u8 mac[8] = {}, net[8] = {}, tail[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    __u32 k0 = 0, k1 = 1, k2 = 2;
    long a = bpf_skb_load_bytes_relative(skb, 10, mac, sizeof(mac), BPF_HDR_START_MAC);   /* across the link header's end */
    long b = bpf_skb_load_bytes_relative(skb, 0, net, sizeof(net), BPF_HDR_START_NET);
    long c = bpf_skb_load_bytes(skb, skb->len - 4 - (net[0] & 7), tail, sizeof(tail));  /* past the end: zeroed */
    bpf_map_update_elem(&seen, &k0, mac, BPF_ANY);
    bpf_map_update_elem(&seen, &k1, net, BPF_ANY);
    bpf_map_update_elem(&seen, &k2, tail, BPF_ANY);
    return (a == 0) + 2 * (b == 0) + 4 * (c == 0) + 8 * (bpf_skb_load_bytes_relative(skb, 0, net, 4, 2) != 0);
}

char LICENSE[] SEC("license") = "GPL";
"""


def _frames(count: int, seed: int) -> list[bytes]:
    """Ethernet frames: IPv4 TCP and UDP (UDP checksum zero or set), other ethertypes,
    lengths from just the headers to a few hundred bytes."""
    rng = random.Random(seed)
    frames = []
    for _ in range(count):
        kind = rng.choice(["tcp", "udp", "udp0", "other"])
        eth = bytes(rng.randrange(256) for _ in range(12))
        payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 40, 300])))
        if kind == "other":
            frames.append(eth + b"\x86\xdd" + bytes(40) + payload)
            continue
        proto = 6 if kind == "tcp" else 17
        src, dst = (bytes(rng.randrange(256) for _ in range(4)) for _ in range(2))
        if proto == 6:
            l4 = struct.pack(">HHIIBBHHH", rng.randrange(65536), rng.randrange(65536), 0, 0, 0x50, 0x18, 512,
                             rng.randrange(65536), 0)
        else:
            l4 = struct.pack(">HHHH", rng.randrange(65536), 53, 8 + len(payload),
                             0 if kind == "udp0" else rng.randrange(1, 65536))
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + len(payload), 0, 0, 64, proto,
                         rng.randrange(65536), src, dst)
        frames.append(eth + b"\x08\x00" + ip + l4 + payload)
    return frames


def _runs(source: str, name: str, engine: str, frames: list[bytes]) -> tuple[list, dict]:
    with pybpf.load(pybpf.read(source), engine=engine) as collection:
        if "ports" in collection.maps:                    # interface 1 (lo) in two slots
            for slot in (1, 5):
                collection.maps["ports"][slot] = 1
        program = collection.programs[name]
        runs = []
        for frame in frames:
            result = program.test_run(frame)
            runs.append((result.retval, result.data_out))
        maps = {map_name: dict(m.items()) for map_name, m in collection.maps.items() if map_name != "ports"}
    return runs, maps


CASES = [(TC_C, "rewrite"), (XDP_C, "bounce"), (SOCKET_C, "peek")]


@pytest.mark.parametrize("source, name", CASES, ids=[name for _, name in CASES])
def test_packet_helpers_run_on_the_vm(source, name):
    runs, maps = _runs(source, name, "vm", _frames(60, 1))
    assert len({retval for retval, _ in runs}) >= 2
    assert any(maps.values())


@needs_kernel
@pytest.mark.parametrize("source, name", CASES, ids=[name for _, name in CASES])
def test_packet_helpers_agree_with_the_kernel(source, name):
    frames = _frames(300, 2)
    vm_runs, vm_maps = _runs(source, name, "vm", frames)
    kernel_runs, kernel_maps = _runs(source, name, "kernel", frames)
    for index, (ours, theirs) in enumerate(zip(vm_runs, kernel_runs, strict=True)):
        assert ours == theirs, f"packet {index}: {frames[index].hex()}"
    assert vm_maps == kernel_maps


def test_a_rewritten_header_keeps_a_valid_checksum():
    """The destination rewritten by store_bytes + l3_csum_replace: the IPv4 header still
    sums to 0xffff."""
    frames = [f for f in _frames(40, 3) if f[12:14] == b"\x08\x00"]
    runs, _ = _runs(TC_C, "rewrite", "vm", frames)
    for _, packet in runs:
        header = packet[14:34]
        assert header[16:20] == bytes([10, 9, 8, 7])
        total = sum(struct.unpack(">10H", header))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        original = next(f for f in frames if f[:12] == packet[:12])
        before = sum(struct.unpack(">10H", original[14:34]))
        while before >> 16:
            before = (before & 0xFFFF) + (before >> 16)
        assert total == before            # an incremental update keeps the sum as it was
