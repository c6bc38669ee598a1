"""What the outside check of 2026-12-08 (docs/replay.md, "Checked against the kernel")
found the engines disagreeing on, each with its regression: the skb fields the kernel's
test run sets through eth_type_trans (802.3 lengths, pkt_type, ifindex, wire_len), per-CPU
maps filled from whatever CPU the kernel engine's thread ran on, the packets an skb test
run refuses and why, ``--maps`` in a hash map's own order, and maps of maps defined in
BTF on the kernel engine. The expectations are the kernel's (root: compared with
BPF_PROG_TEST_RUN; without it, the vm's interpreter and JIT against the values the kernel
gives, written out)."""

from __future__ import annotations

import json
import os
import struct

import pytest

import pybpf
from pybpf.cli import main
from pybpf.replay import replay

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")

SKB_FIELDS = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct row { __u32 len, protocol, pkt_type, ifindex, wire_len; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 64); __type(key, __u32); __type(value, struct row); } rows SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } next SEC(".maps");
SEC("tc")
int fields(struct __sk_buff *skb)
{
    __u32 zero = 0, *n = bpf_map_lookup_elem(&next, &zero);
    if (!n)
        return 2;
    __u32 i = (*n)++;
    struct row r = { skb->len, skb->protocol, skb->pkt_type, skb->ifindex, skb->wire_len };
    bpf_map_update_elem(&rows, &i, &r, BPF_ANY);
    return 0;
}
char _license[] SEC("license") = "GPL";
"""

UNICAST, ZERO, BROADCAST, MULTICAST = b"\x02\x00\x00\x00\x00\x01", bytes(6), b"\xff" * 6, b"\x01\x00\x5e\x00\x00\x01"
#: (packet, skb->protocol in host order, pkt_type) as the kernel's test run gives them:
#: eth_type_trans on loopback, whose address and broadcast address are all zeros
SKB_CASES = [
    (ZERO + UNICAST + b"\x08\x06" + bytes(28), 0x0806, 0),                  # to loopback's address: HOST
    (UNICAST + UNICAST + b"\x08\x06" + bytes(28), 0x0806, 3),               # another host's
    (BROADCAST + UNICAST + b"\x08\x06" + bytes(28), 0x0806, 2),             # broadcast is multicast on lo
    (MULTICAST + UNICAST + b"\x88\xcc" + bytes(30), 0x88CC, 2),
    (UNICAST + UNICAST + b"\x00\x26" + b"\xff\xff" + bytes(36), 0x0001, 3),  # 802.3 length, raw IPX: ETH_P_802_3
    (UNICAST + UNICAST + b"\x00\x26" + b"\xaa\xaa\x03" + bytes(35), 0x0004, 3),  # 802.3 with LLC: ETH_P_802_2
    (BROADCAST + UNICAST + b"\x05\xff" + b"\xff", 0x0004, 2),                # length field, one byte of payload
    (UNICAST + UNICAST + b"\x06\x00" + bytes(20), 0x0600, 3),                # the first ethertype
]


def _rows(engine: str, packets: list[bytes], **options) -> list[tuple[int, ...]]:
    with pybpf.load(pybpf.read(SKB_FIELDS, name="skbfields"), engine=engine, **options) as coll:
        results = list(replay(coll.programs["fields"], packets))
        assert all(not r.error for r in results)
        rows = coll.maps["rows"]
        return [tuple(rows[i].values()) for i in range(len(packets))]


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "interpreter"])
def test_skb_fields_are_the_kernels_on_the_vm(module_cache, jit):
    packets = [p for p, _, _ in SKB_CASES]
    expected = [(len(p), struct.unpack("<H", struct.pack(">H", proto))[0], kind, 1, 0) for p, proto, kind in SKB_CASES]
    assert _rows("vm", packets, jit=jit) == expected


@needs_kernel
def test_skb_fields_agree_with_the_kernel(module_cache):
    packets = [p for p, _, _ in SKB_CASES]
    assert _rows("vm", packets) == _rows("kernel", packets)


PER_CPU = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } sizes SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } cpu SEC(".maps");
SEC("xdp")
int count(struct xdp_md *ctx)
{
    __u32 key = (ctx->data_end - ctx->data) & 1, size = ctx->data_end - ctx->data;
    __u64 one = 1, *v = bpf_map_lookup_elem(&hits, &key);
    if (v)
        *v += 1;
    v = bpf_map_lookup_elem(&sizes, &size);
    if (v)
        *v += 1;
    else
        bpf_map_update_elem(&sizes, &size, &one, BPF_NOEXIST);
    __u32 id = bpf_get_smp_processor_id();
    bpf_map_update_elem(&cpu, &key, &id, BPF_ANY);
    return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
"""


def _maps_after(engine: str, source: str, packets: list[bytes]) -> dict[str, list]:
    with pybpf.load(pybpf.read(source, name="checked"), engine=engine) as coll:
        (program,) = coll.programs.values()
        for _ in replay(program, packets):
            pass
        return {name: sorted(m.items()) for name, m in coll.maps.items()}


@needs_kernel
def test_per_cpu_maps_agree_whatever_cpu_the_replay_starts_on(module_cache):
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("one CPU: the kernel engine cannot run anywhere but where the vm counts")
    packets = [bytes(14 + n) for n in range(40)]
    vm = _maps_after("vm", PER_CPU, packets)
    os.sched_setaffinity(0, {max(allowed)})      # a replay started off the vm's CPU
    try:
        kernel = _maps_after("kernel", PER_CPU, packets)
        assert os.sched_getaffinity(0) == {max(allowed)}     # the caller's affinity is given back
    finally:
        os.sched_setaffinity(0, allowed)
    assert kernel == vm


@pytest.mark.parametrize("engine", [pytest.param("kernel", marks=needs_kernel), "vm"])
def test_refused_skb_packets_say_why_on_both_engines(module_cache, engine):
    eth = UNICAST + UNICAST
    packets = [eth + b"\x08\x00" + bytes(19), eth + b"\x86\xdd" + bytes(39), eth + b"\x88\xb5" + bytes(3698),
               eth + b"\x88\xb5" + bytes(3699), eth + b"\x88\xb5" + bytes(4000)]
    with pybpf.load(pybpf.read(SKB_FIELDS, name="skbfields"), engine=engine) as coll:
        errors = [r.error for r in replay(coll.programs["fields"], packets)]
    assert "IPv4 packet needs its whole 20-byte header, got 19 bytes" in errors[0]
    assert "IPv6 packet needs its whole 40-byte header, got 39 bytes" in errors[1]
    assert errors[2] == ""                                          # 3712 bytes: the longest taken
    assert "at most 3712 bytes of packet" in errors[3] and "got 3713" in errors[3]
    assert "got 4014" in errors[4]


def _cli_json(engine: str, source, capture, capsys) -> list[dict]:
    assert main(["replay", str(source), "-r", str(capture), "--engine", engine, "--json", "--maps"]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    objects[-1]["summary"].pop("engine")
    return objects


@pytest.mark.parametrize("engine", [pytest.param("kernel", marks=needs_kernel), "vm"])
def test_maps_are_printed_in_key_order(module_cache, tmp_path, capsys, engine):
    from pybpf.capture import LinkType, PcapWriter

    source, capture = tmp_path / "count.c", tmp_path / "in.pcap"
    source.write_text(PER_CPU)
    sizes = [14 + (n * 37) % 300 for n in range(60)]
    with PcapWriter(str(capture), LinkType.EN10MB) as writer:
        for n in sizes:
            writer.write(bytes(n))
    objects = _cli_json(engine, source, capture, capsys)
    printed = [key for key, _ in objects[-1]["maps"]["sizes"]]
    assert printed == sorted(set(sizes))
    if engine == "kernel":
        assert objects == _cli_json("vm", source, capture, capsys)


MAP_OF_MAPS = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } inner0 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 2); __type(key, __u32); __array(values, struct inner); } outer SEC(".maps");
SEC("xdp")
int through(struct xdp_md *ctx)
{
    __u32 zero = 0, slot = (ctx->data_end - ctx->data) & 3;
    void *m = bpf_map_lookup_elem(&outer, &zero);
    if (!m)
        return XDP_ABORTED;
    __u64 *v = bpf_map_lookup_elem(m, &slot);
    if (v)
        *v += 1;
    return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
"""


@needs_kernel
def test_btf_defined_map_of_maps_loads_on_the_kernel_engine(module_cache):
    """The inner map's template carries the object's BTF type ids: created without that
    BTF, the kernel refused it (EINVAL) and no program with such a map loaded."""
    with pybpf.load(pybpf.read(MAP_OF_MAPS, name="mapofmaps"), engine="kernel") as coll:
        coll.maps["outer"][0] = coll.maps["inner0"]
        verdicts = [r.verdict for r in replay(coll.programs["through"], [bytes(14 + n) for n in range(10)])]
        assert verdicts == ["XDP_PASS"] * 10
        assert sorted(coll.maps["inner0"].items()) == [(0, 2), (1, 2), (2, 3), (3, 3)]


XDP_DEVICE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp")
int device(struct xdp_md *ctx)
{
    return ctx->ingress_ifindex * 16 + ctx->rx_queue_index;
}
char _license[] SEC("license") = "GPL";
"""


@pytest.mark.parametrize("engine,options", [pytest.param("kernel", {}, marks=needs_kernel), ("vm", {"jit": True}),
                                            ("vm", {"jit": False})], ids=["kernel", "vm-jit", "vm-interpreter"])
def test_xdp_packets_come_in_on_loopbacks_first_queue(module_cache, engine, options):
    with pybpf.load(pybpf.read(XDP_DEVICE, name="xdpdevice"), engine=engine, **options) as coll:
        assert [r.retval for r in replay(coll.programs["device"], [bytes(60)] * 3)] == [16] * 3


def test_replay_stops_quietly_when_its_reader_goes(module_cache, tmp_path):
    """``pybpf replay ... -v | head``: exit 0 without an error about the broken pipe."""
    import subprocess
    import sys

    from pybpf.capture import LinkType, PcapWriter

    source, capture = tmp_path / "device.c", tmp_path / "in.pcap"
    source.write_text(XDP_DEVICE)
    with PcapWriter(str(capture), LinkType.EN10MB) as writer:
        for _ in range(3000):              # ~250 KB of -v lines: more than a pipe holds
            writer.write(UNICAST + UNICAST + b"\x08\x06" + bytes(28))
    process = subprocess.Popen([sys.executable, "-m", "pybpf", "replay", str(source), "-r", str(capture),
                                "--engine", "vm", "-v"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert process.stdout is not None and process.stderr is not None
    assert b"ARP" in process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""


XDP_FRAGMENTS = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp")
int fragments(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 18 > end)
        return 0;
    unsigned char *p = data;
    int delta = (short)((p[14] << 8) | p[15]), then = (signed char)p[17];
    long r = p[16] ? bpf_xdp_adjust_tail(ctx, delta) : bpf_xdp_adjust_head(ctx, delta);
    long r2 = bpf_xdp_adjust_tail(ctx, then);
    long linear = (long)ctx->data_end - (long)ctx->data;
    return (int)(((r & 0xff) << 24) | ((r2 & 0xff) << 16) | (linear & 0xffff));
}
char _license[] SEC("license") = "GPL";
"""


def _fragment_cases() -> list[bytes]:
    """Packets that say how to adjust themselves: (delta, 1 tail / 0 head, a second tail
    delta), around the 3,520 bytes an XDP test run's linear part holds."""
    cases = []
    for n in (60, 3520, 3521, 4000, 7616, 7617, 9000):
        frags = n - 3520
        last = (frags - 1) % 4096 + 1 if frags > 0 else 0
        for tail, delta, then in ((1, 16, 0), (1, -16, 0), (1, -frags - 10, 0), (1, -frags + 3, 8), (1, 4096 - last, 0),
                                  (1, 4097 - last, 0), (0, -20, 0), (0, 3500, 0), (1, 14 - n, 0), (1, 13 - n, 0)):
            cases.append(bytes(12) + b"\x88\xb5" + struct.pack(">hBb", delta, tail, then) + bytes(n - 18))
    return cases


def _fragment_runs(engine: str, **options) -> list[tuple[int, int, bytes]]:
    with pybpf.load(pybpf.read(XDP_FRAGMENTS, name="fragments"), engine=engine, **options) as coll:
        return [(r.retval, len(r.data), r.data) for r in replay(coll.programs["fragments"], _fragment_cases())]


def test_xdp_packets_past_a_page_are_linear_part_and_fragments_on_the_vm(module_cache):
    runs = _fragment_runs("vm")
    assert runs == _fragment_runs("vm", jit=False)      # the JIT's packet loop = the interpreter
    by_case = dict(zip([(len(p), p[14:18]) for p in _fragment_cases()], runs))
    grow = struct.pack(">hBb", 16, 1, 0)
    assert by_case[(4000, grow)][:2] == (3520, 4016)    # data_end stops at 3,520; the last fragment grew
    assert by_case[(7616, grow)][:2] == (0xEA000000 | 3520, 7616)        # a full page: -EINVAL
    assert by_case[(7617, struct.pack(">hBb", 4095, 1, 0))][:2] == (3520, 11712)
    assert by_case[(60, grow)][:2] == (76, 76)


@needs_kernel
def test_xdp_fragments_agree_with_the_kernel(module_cache):
    assert _fragment_runs("vm") == _fragment_runs("kernel")


TC_CHANGE_TAIL = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tc")
int tail(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    if (data + 18 > end)
        return 0;
    unsigned char *p = data;
    long r = bpf_skb_change_tail(skb, (p[14] << 8) | p[15], p[16]);
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    if (data + 1 <= end)
        ((unsigned char *)data)[0] = 0x77;              /* the new packet is writable */
    return (int)(((r & 0xff) << 24) | ((skb->len & 0xfff) << 12) | ((end - data) & 0xfff));
}
char _license[] SEC("license") = "GPL";
"""


def _change_tail_runs(engine: str) -> list[tuple[int, bytes]]:
    packets = [b"\x02" + bytes(11) + b"\x88\xb5" + struct.pack(">HB", new_len, flags) + bytes(n - 17)
               for n in (18, 200, 3712) for new_len in (13, 14, 17, 199, 200, 201, 3713, 16064, 16065)
               for flags in (0, 1)]
    with pybpf.load(pybpf.read(TC_CHANGE_TAIL, name="changetail"), engine=engine) as coll:
        return [(r.retval, r.data) for r in replay(coll.programs["tail"], packets)]


def test_skb_change_tail_cuts_and_grows_the_packet_on_the_vm(module_cache):
    runs = _change_tail_runs("vm")
    assert len(runs) == 54
    (grown_r0, grown), (_, refused) = runs[6 * 2 + 0 + 18], runs[6 * 2 + 1 + 18]     # 200 bytes to 3,713
    assert grown_r0 == (3713 & 0xFFF) << 12 | (3713 & 0xFFF) and len(grown) == 3713
    assert grown[0] == 0x77 and grown[200:] == bytes(3513)
    assert len(refused) == 200 and refused[0] == 0x77 and runs[6 * 2 + 1 + 18][0] >> 24 == 0xEA    # flags: -EINVAL
    assert runs[0][0] >> 24 == 0xEA and runs[2][0] >> 24 == 0          # 13 bytes: -EINVAL; 14: cut to the header
    assert runs[-4][0] >> 24 == 0 and runs[-2][0] >> 24 == 0xEA         # 16,064 bytes the most (SKB_MAX_ALLOC)


@needs_kernel
def test_skb_change_tail_agrees_with_the_kernel(module_cache):
    assert _change_tail_runs("vm") == _change_tail_runs("kernel")
