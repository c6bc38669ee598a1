"""One C program with what real ones use at once — a hash map, a ring buffer, a program
array for a tail call, read-only and zeroed globals, a bpf-to-bpf call holding a bounded
loop, and a CO-RE field offset of a kernel struct — compiled with the pip-installed
clang, run on the kernel (BPF_PROG_TEST_RUN) and on the vm engine: the same return
values, map contents, ring buffer records and globals, and the values Python computes."""

from __future__ import annotations

import struct

import pytest

from pybpf.btf import Kind
from pybpf.engine import load
from pybpf.object.elf import load_object

SOURCE = r"""
#include <pybpf/bpf.h>

struct sk_buff { unsigned int len; } __attribute__((preserve_access_index));
struct event { __u32 sum; __u32 first; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); }
    by_first SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); }
    next SEC(".maps");

volatile const __u32 weight = 3;
__u64 packets = 0;
__u32 len_offset = 0;

static __attribute__((noinline)) __u32 checksum(const __u8 *data, const __u8 *end)
{
    __u32 sum = 0;
    for (int i = 0; i < 32; i++) {
        if (data + i + 1 > end)
            break;
        sum += data[i];
    }
    return sum;
}

SEC("xdp") int finish(struct xdp_md *ctx) { return XDP_TX; }

SEC("xdp") int classify(struct xdp_md *ctx)
{
    const __u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 1 > end)
        return XDP_ABORTED;
    __u32 sum = checksum(data, end) * weight;
    __u32 key = data[0];
    __u64 one = 1, *seen = bpf_map_lookup_elem(&by_first, &key);
    if (seen)
        __sync_fetch_and_add(seen, 1);
    else
        bpf_map_update_elem(&by_first, &key, &one, BPF_ANY);
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->sum = sum;
        e->first = key;
        bpf_ringbuf_submit(e, 0);
    }
    packets += 1;
    struct sk_buff *skb = 0;
    len_offset = bpf_core_field_offset(skb->len);
    if (key == 0xff)
        bpf_tail_call(ctx, &next, 0);
    return sum & 1 ? XDP_DROP : XDP_PASS;
}
LICENSE("GPL");
"""

PACKETS = [bytes([1, 2, 3]) + bytes(61), bytes([1]) + bytes(range(40)) + bytes(23), bytes([0xFF]) * 64,
           bytes([7, 9]) + bytes(62), bytes(range(64))]


def _expected() -> tuple[list[int], dict[int, int], list[tuple[int, int]]]:
    returns, counts, events = [], {}, []
    for packet in PACKETS:
        total = sum(packet[:32]) * 3 & 0xFFFF_FFFF
        counts[packet[0]] = counts.get(packet[0], 0) + 1
        events.append((total, packet[0]))
        returns.append(3 if packet[0] == 0xFF else 1 if total & 1 else 2)   # XDP_TX / DROP / PASS
    return returns, counts, events


def _records(engine: str, ring) -> list[bytes]:
    if engine == "vm":
        return ring.drain()
    from pybpf.kernel.ringbuf import RingBuffer

    with RingBuffer(ring.fd, ring.max_entries) as reader:
        return list(reader.records())


def _run(spec, engine: str) -> dict:
    with load(spec, engine=engine) as coll:
        coll.maps["next"][0] = coll.programs["finish"]
        returns = [coll.programs["classify"].test_run(packet).retval for packet in PACKETS]
        counts = dict(coll.maps["by_first"].items())
        events = [struct.unpack("<II", record) for record in _records(engine, coll.maps["events"])]
        bss = next(name for name in coll.maps if name.endswith(".bss"))
        packets, len_offset = struct.unpack_from("<QI", coll.maps[bss][0])
    return {"returns": returns, "counts": counts, "events": events, "packets": packets, "len_offset": len_offset}


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_c_program_features_on_both_engines(build, kernel, vmlinux, engine):
    spec = load_object(build(SOURCE), name="features")
    result = _run(spec, engine)
    returns, counts, events = _expected()
    skb = vmlinux.find("sk_buff", Kind.STRUCT)
    assert result == {"returns": returns, "counts": counts, "events": events, "packets": len(PACKETS),
                      "len_offset": next(m.offset // 8 for m in skb.members if m.name == "len")}


def test_maps_with_names_longer_than_the_kernel_keeps():
    """The kernel keeps 15 characters of a map's name; a program's references follow the
    spec's name (the symbol itself may be longer)."""
    from pybpf.object.source import read

    spec = read("#include <pybpf/bpf.h>\n"
                "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); "
                "__type(value, __u64); } counts_by_process_id SEC(\".maps\");\n"
                'SEC("socket") int count(void *ctx) { __u32 k = 0; __u64 *v = '
                "bpf_map_lookup_elem(&counts_by_process_id, &k); if (v) *v += 1; return 0; }\n"
                'char _license[] SEC("license") = "GPL";\n')
    assert list(spec.maps) == ["counts_by_proce"]
    assert set(spec.programs["count"].references.values()) == {"counts_by_proce"}
    with load(spec, engine="vm") as collection:
        collection.programs["count"].test_run(b"\0" * 64)
        assert collection.maps["counts_by_proce"][0] == 1
