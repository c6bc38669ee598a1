"""Replaying captures through packet programs: the vm engine's per-packet verdicts,
output packets and final maps equal the kernel engine's (BPF_PROG_TEST_RUN), over
generated captures of mixed traffic (IPv4/IPv6, TCP/UDP/ICMP, ARP, runts, truncated
headers) and tcpdump's own test captures, for XDP parsers with bounds checks, header
rewrites, ``bpf_xdp_adjust_head/tail``, tc programs reading and writing ``__sk_buff``
fields, and socket filters."""

from __future__ import annotations

import os
import random
import struct

import pytest

import pybpf
from pybpf.replay import replay, replay_verdicts

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")

PROGRAMS = {
    "xdp_parser": r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 256); __type(key, u32); __type(value, u64); } protos SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); } sources SEC(".maps");
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_ABORTED;
    if (eth->h_proto != __builtin_bswap16(0x0800))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_DROP;
    u32 proto = ip->protocol, src = ip->saddr;
    u64 one = 1, *n = bpf_map_lookup_elem(&protos, &proto);
    if (n)
        __sync_fetch_and_add(n, 1);
    n = bpf_map_lookup_elem(&sources, &src);
    if (n)
        *n += ip->tot_len;
    else
        bpf_map_update_elem(&sources, &src, &one, BPF_ANY);
    if (proto == 1) {              /* ICMP: rewrite the TTL, bounce */
        ip->ttl = 7;
        return XDP_TX;
    }
    return proto == 17 ? XDP_DROP : XDP_PASS;
}
LICENSE("GPL");
""",
    "xdp_adjust": r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 14 > end)
        return XDP_DROP;
    if (((unsigned char *)data)[13] & 1) {          /* odd ethertype byte: push 4 bytes of tag */
        if (bpf_xdp_adjust_head(ctx, -4))
            return XDP_ABORTED;
        data = (void *)(long)ctx->data; end = (void *)(long)ctx->data_end;
        if (data + 18 > end)
            return XDP_ABORTED;
        __builtin_memmove(data, data + 4, 12);
        ((unsigned char *)data)[12] = 0x81; ((unsigned char *)data)[13] = 0x00;
        ((unsigned char *)data)[14] = 0x00; ((unsigned char *)data)[15] = 0x2a;
        return XDP_PASS;
    }
    if (end - data > 60 && bpf_xdp_adjust_tail(ctx, -8))     /* trim long frames */
        return XDP_ABORTED;
    return XDP_PASS;
}
LICENSE("GPL");
""",
    "tc_mark": r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, u32); __type(value, u64); } seen SEC(".maps");
SEC("tc")
int prog(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    u32 key = skb->protocol == __builtin_bswap16(0x0800) ? 0 : skb->protocol == __builtin_bswap16(0x86dd) ? 1 : 2;
    u64 *n = bpf_map_lookup_elem(&seen, &key);
    if (n)
        __sync_fetch_and_add(n, skb->len);
    skb->mark = skb->len * 3;
    skb->priority = key;
    if (data + 14 > end)
        return TC_ACT_SHOT;
    ((unsigned char *)data)[0] ^= 0xff;             /* rewrite the destination MAC */
    return key == 2 ? TC_ACT_SHOT : TC_ACT_OK;
}
LICENSE("GPL");
""",
    "socket_len": r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
SEC("socket")
int prog(struct __sk_buff *skb)
{
    if (skb->len < 20)
        return 0;
    return skb->protocol == __builtin_bswap16(0x0800) ? 64 : skb->len;
}
LICENSE("GPL");
""",
}


def _ethernet(ethertype: int, payload: bytes, rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(12)) + struct.pack("!H", ethertype) + payload


def _ipv4(proto: int, payload: bytes, rng: random.Random) -> bytes:
    total = 20 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, rng.randrange(65536), 0, rng.randrange(1, 255), proto, 0,
                         bytes([10, 0, 0, rng.randrange(1, 6)]), bytes([10, 0, 1, rng.randrange(1, 6)]))
    return header + payload


def generated_packets(seed: int, count: int) -> list[bytes]:
    """Mixed traffic: TCP/UDP/ICMP over IPv4, IPv6, ARP, and runts or truncated headers."""
    rng = random.Random(seed)
    packets = []
    for _ in range(count):
        kind = rng.random()
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
        if kind < 0.5:
            packet = _ethernet(0x0800, _ipv4(rng.choice([1, 6, 17, 47]), body, rng), rng)
        elif kind < 0.65:
            packet = _ethernet(0x86DD, bytes(40) + body, rng)
        elif kind < 0.75:
            packet = _ethernet(0x0806, bytes(28), rng)
        elif kind < 0.85:
            packet = _ethernet(0x0800, bytes(rng.randrange(0, 19)), rng)      # truncated IPv4 header
        elif kind < 0.92:
            packet = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 14)))   # runt
        else:
            packet = _ethernet(rng.randrange(65536), body, rng)
        packets.append(packet)
    return packets


@pytest.fixture(scope="module")
def specs(module_cache):
    return {name: pybpf.read(text, name=name) for name, text in PROGRAMS.items()}


def _run(spec, engine: str, packets: list[bytes]):
    with pybpf.load(spec, engine=engine) as coll:
        (program,) = coll.programs.values()
        results = [(r.verdict, r.retval, r.data, r.error != "") for r in replay(program, packets)]
        maps = {name: sorted(m.items()) for name, m in coll.maps.items()}
    return results, maps


@needs_kernel
@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("seed", [1, 2])
def test_vm_and_kernel_agree_packet_by_packet(specs, name, seed):
    packets = generated_packets(seed, 150)
    vm_results, vm_maps = _run(specs[name], "vm", packets)
    kernel_results, kernel_maps = _run(specs[name], "kernel", packets)
    for index, (vm, kernel) in enumerate(zip(vm_results, kernel_results)):
        assert vm == kernel, f"packet {index} ({packets[index].hex()}): vm {vm} kernel {kernel}"
    assert vm_maps == kernel_maps
    assert len({verdict for verdict, *_ in vm_results}) >= 2     # the capture exercises several verdicts


@needs_kernel
def test_vm_and_kernel_agree_on_tcpdumps_captures(specs):
    from pybpf.capture import LinkType, read_packets
    from shared_data import SHARED

    directory = SHARED / "libpcap-tests" / "savefiles"
    if not directory.is_dir():
        pytest.skip(f"{directory} is not here")
    packets = []
    for path in sorted(directory.glob("*.pcap"))[:60]:
        try:
            packets.extend(p.data for p in read_packets(path) if p.linktype == LinkType.EN10MB)
        except pybpf.PybpfError:
            continue
    assert len(packets) > 100
    for name in ("xdp_parser", "tc_mark"):
        assert _run(specs[name], "vm", packets) == _run(specs[name], "kernel", packets)


def test_verdicts_as_numpy_on_the_vm(specs):
    numpy = pytest.importorskip("numpy")
    packets = generated_packets(3, 80)
    with pybpf.load(specs["xdp_parser"], engine="vm") as coll:
        verdicts = replay_verdicts(coll.programs["prog"], packets)
        protos = coll.maps["protos"]
        assert verdicts.dtype == numpy.int64 and len(verdicts) == 80
        assert int((verdicts == 3).sum()) == protos[1]          # every ICMP packet was bounced (XDP_TX)
        assert int((verdicts == -1).sum()) == sum(len(p) < 14 for p in packets)


def test_replay_refuses_non_packet_programs(module_cache):
    spec = pybpf.read('#include <pybpf/bpf.h>\nSEC("tracepoint/syscalls/sys_enter_getppid")\n'
                      'int prog(void *ctx) { return 0; }\nLICENSE("GPL");\n')
    with pybpf.load(spec, engine="vm") as coll, pytest.raises(pybpf.PybpfError, match="replay runs packet programs"):
        next(replay(coll.programs["prog"], [bytes(64)]))
