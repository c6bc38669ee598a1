"""Hash maps that the JIT's packet batches update natively (pybpf.vm.jit.hashes): a
per-source counter (lookup, miss → update BPF_NOEXIST, hit → atomic add) with deletes,
BPF_EXIST updates, a map too small for the traffic (E2BIG), keys in the packet, and
updates whose value is in a map (the Python helper, between native ones), replayed over generated
captures — the vm engine's verdicts and final maps equal the kernel's
(BPF_PROG_TEST_RUN) and the interpreter's, and the map stays right when userspace and
Python helpers change it between and during batches."""

from __future__ import annotations

import random
import struct

import pytest
from test_replay_engines import needs_kernel

import pybpf
from pybpf.capture import LinkType, PcapWriter, open_capture
from pybpf.replay import replay, replay_summary

pytest.importorskip("llvmlite.binding")

#: outcomes are counted in ``codes``: 0 ok, 1 -E2BIG, 2 -EEXIST, 3 -ENOENT, 4 other
PER_SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 40); __type(key, u32); __type(value, u64); } sources SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 300); __type(key, u16); __type(value, struct pair); } ports SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, u32); __type(value, u64); } codes SEC(".maps");
struct pair { u32 first, last; u8 ttl; };

static __always_inline void note(long err)
{
    u32 key = err == 0 ? 0 : err == -7 ? 1 : err == -17 ? 2 : err == -2 ? 3 : 4;
    u64 *n = bpf_map_lookup_elem(&codes, &key);
    if (n)
        __sync_fetch_and_add(n, 1);
}

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
    u32 src = ip->saddr, dst = ip->daddr, op = ip->ttl & 7;
    u16 port = ip->id & 0x1ff;
    u64 one = 1, *n = bpf_map_lookup_elem(&sources, &ip->saddr);    /* a key in the packet */
    struct pair seen = {}, *p = bpf_map_lookup_elem(&ports, &port);
    if (p) {
        p->last = ip->id;
        p->ttl = ip->ttl;
    } else {
        seen.first = seen.last = ip->id;
        note(bpf_map_update_elem(&ports, &port, &seen, op == 3 ? BPF_EXIST : BPF_NOEXIST));
    }
    if (op == 1)
        note(bpf_map_update_elem(&sources, &dst, &one, BPF_EXIST));
    if (op == 2)
        note(bpf_map_delete_elem(&sources, &dst));
    if (op == 4)
        note(bpf_map_update_elem(&sources, &dst, &one, BPF_ANY));
    if (op == 7)        /* a key in the packet */
        note(bpf_map_update_elem(&sources, &ip->daddr, &one, BPF_ANY));
    if (n) {
        __sync_fetch_and_add(n, 1);
        if (op == 0)    /* a value in a map: the Python helper */
            note(bpf_map_update_elem(&sources, &dst, n, BPF_ANY));
        if (op == 5)
            note(bpf_map_delete_elem(&sources, &src));
        return XDP_PASS;
    }
    long err = bpf_map_update_elem(&sources, &src, &one, BPF_NOEXIST);
    note(err);
    if (op == 6)
        note(bpf_map_update_elem(&sources, &src, &one, BPF_NOEXIST));     /* now it exists: -EEXIST */
    return err ? XDP_DROP : XDP_TX;
}
LICENSE("GPL");
"""


#: a flow table keyed by a 5-tuple (16 bytes with padding): packets per flow, a flow
#: forgotten when a packet with TTL 1 ends it
FLOWS = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
struct flow { u32 src, dst; u16 sport, dport; u8 proto; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 100); __type(key, struct flow); __type(value, u64); } flows SEC(".maps");
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end || eth->h_proto != __builtin_bswap16(0x0800))
        return XDP_PASS;
    struct flow key;
    __builtin_memset(&key, 0, sizeof(key));
    key.src = ip->saddr; key.dst = ip->daddr; key.sport = udp->source; key.dport = udp->dest; key.proto = ip->protocol;
    if (ip->ttl == 1)
        return bpf_map_delete_elem(&flows, &key) ? XDP_ABORTED : XDP_DROP;
    u64 one = 1, *n = bpf_map_lookup_elem(&flows, &key);
    if (n) {
        __sync_fetch_and_add(n, 1);
        return XDP_PASS;
    }
    return bpf_map_update_elem(&flows, &key, &one, BPF_NOEXIST) ? XDP_ABORTED : XDP_TX;
}
LICENSE("GPL");
"""


def flow_packets(seed: int, count: int) -> list[bytes]:
    """IPv4/UDP packets of ~150 flows (more than the table holds); TTL 1 ends a flow."""
    rng = random.Random(seed)
    packets = []
    for _ in range(count):
        flow = rng.randrange(150)
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 1 if rng.random() < 0.08 else 64, 17, 0,
                             bytes([10, 0, flow % 3, flow]), bytes([10, 9, 0, 1]))
        packets.append(bytes(12) + b"\x08\x00" + header + struct.pack("!HHHH", 1000 + flow % 7, 53, 8, 0))
    return packets


def per_source_packets(seed: int, count: int, sources: int = 90) -> list[bytes]:
    """IPv4 packets from ``sources`` addresses (more than the map holds), with TTLs that
    pick the program's extra operation, and a few non-IPv4 frames."""
    rng = random.Random(seed)
    packets = []
    for _ in range(count):
        if rng.random() < 0.05:
            packets.append(bytes(12) + b"\x86\xdd" + bytes(40))
            continue
        address = lambda: bytes([10, 1, rng.randrange(4), rng.randrange(sources // 4 + 1)])  # noqa: E731
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, rng.randrange(65536), 0, rng.randrange(256), 17, 0,
                             address(), address())
        packets.append(bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00" + header + bytes(8))
    return packets


@pytest.fixture(scope="module")
def spec(module_cache):
    return pybpf.read(PER_SOURCE, name="per_source")


def _replayed(spec, packets, engine: str, jit: bool = True):
    options = {} if engine == "kernel" else {"jit": jit}
    with pybpf.load(spec, engine=engine, **options) as coll:
        verdicts = [(r.retval, r.error != "") for r in replay(coll.programs["prog"], packets)]
        return verdicts, _contents(coll)


def _contents(coll) -> dict:
    """Every map's items, in an order that does not depend on the engine (keys may be records)."""
    return {name: sorted(m.items(), key=repr) for name, m in coll.maps.items()}


def test_the_map_is_native_in_the_batches(spec):
    from pybpf.vm.jit.hashes import native_hash

    with pybpf.load(spec, engine="vm") as coll:
        list(replay(coll.programs["prog"], per_source_packets(5, 50)))
        assert native_hash(coll.maps["sources"]) is not None and native_hash(coll.maps["ports"]) is not None
        assert coll.maps["sources"].__dict__.get("native_hash") is not None     # made by the batch


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vm_batches_equal_the_interpreter(spec, seed):
    packets = per_source_packets(seed, 1500)
    jit, interpreted = _replayed(spec, packets, "vm"), _replayed(spec, packets, "vm", jit=False)
    assert jit == interpreted
    codes = dict(jit[1]["codes"])
    assert all(codes[k] for k in range(4))         # every outcome happened: ok, E2BIG, EEXIST, ENOENT


@needs_kernel
@pytest.mark.parametrize("seed", [1, 4])
def test_vm_batches_equal_the_kernel(spec, seed):
    packets = per_source_packets(seed, 1500)
    vm, kernel = _replayed(spec, packets, "vm"), _replayed(spec, packets, "kernel")
    for index, (a, b) in enumerate(zip(vm[0], kernel[0])):
        assert a == b, f"packet {index}: vm {a}, kernel {b}"
    assert vm[1] == kernel[1]


def test_flow_keys_of_16_bytes_equal_the_interpreter():
    spec = pybpf.read(FLOWS, name="flows")
    packets = flow_packets(3, 2000)
    jit, interpreted = _replayed(spec, packets, "vm"), _replayed(spec, packets, "vm", jit=False)
    assert jit == interpreted
    assert {retval for retval, _ in jit[0]} >= {0, 1, 2, 3}     # aborted (full, missing), drop, pass, tx


@needs_kernel
def test_flow_keys_of_16_bytes_equal_the_kernel():
    spec = pybpf.read(FLOWS, name="flows")
    packets = flow_packets(4, 2000)
    assert _replayed(spec, packets, "vm") == _replayed(spec, packets, "kernel")


def test_native_pcap_replay_equals_the_interpreter(spec, tmp_path):
    path = str(tmp_path / "sources.pcap")
    writer = PcapWriter(path, LinkType.EN10MB)
    for i, packet in enumerate(per_source_packets(7, 3000)):
        writer.write(packet, i)
    writer.close()
    with pybpf.load(spec, engine="vm") as coll, open_capture(path) as packets:
        summary = replay_summary(coll.programs["prog"], packets, path)
        maps = _contents(coll)
    with open_capture(path) as packets:
        expected = _replayed(spec, [p.data for p in packets], "vm", jit=False)
    assert summary is not None and maps == expected[1]


def test_userspace_changes_between_batches(spec):
    """Userspace inserts, updates and deletes between batches (the native tables are
    rebuilt or extended), the same on the JIT and on the interpreter."""
    first, second = per_source_packets(11, 400), per_source_packets(12, 400)
    outcomes = []
    for jit in (True, False):
        with pybpf.load(spec, engine="vm", jit=jit) as coll:
            prog, sources = coll.programs["prog"], coll.maps["sources"]
            list(replay(prog, first))
            keys = sorted(k for k, _ in sources.items())
            del sources[keys[0]]
            sources[keys[1]] = 1000
            sources[0x0A0A0A0A] = 7
            verdicts = [r.retval for r in replay(prog, second)]
            del sources[keys[2]]
            verdicts += [r.retval for r in replay(prog, first)]
            outcomes.append((verdicts, list(sources.items()), sorted(coll.maps["ports"].items())))
    assert outcomes[0] == outcomes[1]       # the keys' order included
