"""Programs written against libbpf compile as they are: ``<linux/bpf.h>`` and the other uapi
headers (bundled with the ziglang compiler), ``<bpf/bpf_helpers.h>``, ``<bpf/bpf_endian.h>``,
``<bpf/bpf_tracing.h>`` and ``<bpf/bpf_core_read.h>`` (pybpf's own, with libbpf's names),
with no kernel headers on the machine — and run the same on both engines."""

from __future__ import annotations

import ctypes
import os
import random
import struct

import pytest

import pybpf

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")

pytestmark = pytest.mark.usefixtures("module_cache")

XDP_C = r"""
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} by_proto SEC(".maps");

static __always_inline int count(__u32 proto, __u64 bytes)
{
    __u64 *v = bpf_map_lookup_elem(&by_proto, &proto);
    if (v)
        __sync_fetch_and_add(v, bytes);
    return 0;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_ABORTED;
    if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end)
            return XDP_DROP;
        count(ip6->nexthdr, end - data);
        return ip6->hop_limit < 2 ? XDP_DROP : XDP_PASS;
    }
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end)
        return XDP_DROP;
    count(ip->protocol, end - data);
    if (ip->protocol == IPPROTO_TCP) {
        struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
        if ((void *)(tcp + 1) > end)
            return XDP_DROP;
        if (tcp->dest == bpf_htons(22) && tcp->syn && !tcp->ack)
            return XDP_DROP;
    } else if (ip->protocol == IPPROTO_UDP) {
        struct udphdr *udp = (void *)ip + ip->ihl * 4;
        if ((void *)(udp + 1) > end)
            return XDP_DROP;
        if (udp->dest == bpf_htons(53)) {     /* answer: swap the MAC addresses, send back */
            unsigned char mac[ETH_ALEN];
            __builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
            __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
            __builtin_memcpy(eth->h_source, mac, ETH_ALEN);
            return XDP_TX;
        }
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
"""

TC_C = r"""
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int classify(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return TC_ACT_SHOT;
    skb->mark = bpf_ntohs(eth->h_proto);
    skb->priority = skb->len & 7;
    return eth->h_proto == bpf_htons(ETH_P_ARP) ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
"""

TRACING_C = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, char[32]);
} last SEC(".maps");

SEC("uprobe")
int BPF_UPROBE(on_atoi, const char *s)
{
    u32 zero = 0;
    char *slot = bpf_map_lookup_elem(&last, &zero);
    if (slot && (bpf_get_current_pid_tgid() >> 32) == TARGET_PID)
        bpf_probe_read_user_str(slot, 32, s);
    return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(on_atoi_return, long length)
{
    if ((bpf_get_current_pid_tgid() >> 32) == TARGET_PID)
        bpf_printk("atoi %ld %d %d %d", length, 1, 2, 3);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    char comm[16];
    BPF_CORE_READ_STR_INTO(&comm, next, comm);
    return BPF_CORE_READ(prev, real_parent, tgid) > 0 && comm[0];
}

char LICENSE[] SEC("license") = "GPL";
"""

#: CO-RE facts and bitfield reads as libbpf spells them (two-argument field forms; the
#: bitfield reads work on any integer field, shifting it into place)
CORE_C = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, s64);
} facts SEC(".maps");

static __always_inline void put(u32 key, s64 value) { bpf_map_update_elem(&facts, &key, &value, BPF_ANY); }

SEC("tracepoint/syscalls/sys_enter_getppid")
int core_facts(void *ctx)
{
    struct task_struct *task = (void *)bpf_get_current_task();
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID)
        return 0;
    put(0, BPF_CORE_READ_BITFIELD_PROBED(task, pid));
    put(1, BPF_CORE_READ_BITFIELD_PROBED(task, static_prio));
    put(2, bpf_core_field_exists(struct task_struct, pid) + 2 * bpf_core_field_exists(task->tgid));
    put(3, bpf_core_field_size(struct task_struct, pid));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def _packets(count: int = 300) -> list[bytes]:
    """Ethernet frames of several kinds: TCP (some SYNs to port 22), UDP (some to 53),
    IPv6, ARP, and frames cut inside each header."""
    rng = random.Random(7)
    frames = []
    for _ in range(count):
        kind = rng.choice(["tcp", "udp", "ip6", "arp"])
        eth = bytes(rng.randrange(256) for _ in range(12))
        if kind == "arp":
            frame = eth + b"\x08\x06" + bytes(28)
        elif kind == "ip6":
            frame = eth + b"\x86\xdd" + bytes([0x60, 0, 0, 0, 0, 8, 17, rng.choice([1, 64])]) + bytes(32) + bytes(8)
        else:
            proto = 6 if kind == "tcp" else 17
            ip = bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, proto, 0, 0]) + bytes(rng.randrange(256) for _ in range(8))
            if proto == 6:
                l4 = struct.pack(">HHIIBBHHH", 1234, rng.choice([22, 80]), 0, 0, 0x50, rng.choice([0x02, 0x12]), 0, 0, 0)
            else:
                l4 = struct.pack(">HHHH", 1234, rng.choice([53, 123]), 8, 0)
            frame = eth + b"\x08\x00" + ip + l4
        if rng.random() < 0.2:
            frame = frame[:rng.randrange(14, len(frame))]
        frames.append(frame)
    return frames


def _results(source: str, engine: str, name: str) -> tuple[list[tuple[int, bytes]], dict]:
    with pybpf.load(pybpf.read(source), engine=engine) as collection:
        program = collection.programs[name]
        runs = []
        for frame in _packets():
            try:
                result = program.test_run(frame)
                runs.append((result.retval, result.data_out))
            except pybpf.BPFError as exc:        # e.g. an IPv4 frame cut inside its header
                runs.append((-exc.errno, b""))
        maps = {map_name: dict(m.items()) for map_name, m in collection.maps.items()}
    return runs, maps


@pytest.mark.parametrize("source, name", [(XDP_C, "firewall"), (TC_C, "classify")])
def test_uapi_headers_compile_and_run_on_the_vm(source, name):
    runs, _ = _results(source, "vm", name)
    assert len({retval for retval, _ in runs}) >= 2      # the program looked at the packets


@needs_kernel
@pytest.mark.parametrize("source, name", [(XDP_C, "firewall"), (TC_C, "classify")])
def test_the_engines_agree_on_a_libbpf_style_program(source, name):
    assert _results(source, "vm", name) == _results(source, "kernel", name)


def test_xdp_verdicts_follow_the_headers():
    runs, maps = _results(XDP_C, "vm", "firewall")
    verdicts = {retval for retval, _ in runs}
    assert {1, 2, 3} <= verdicts                 # XDP_DROP (SYN to 22), XDP_PASS, XDP_TX (port 53)
    tx = next(data for retval, data in runs if retval == 3)
    original = next(f for f, (retval, _) in zip(_packets(), runs, strict=True) if retval == 3)
    assert tx[:6] == original[6:12] and tx[6:12] == original[:6]   # the MACs swapped
    assert maps["by_proto"][6] > 0 and maps["by_proto"][17] > 0     # decoded through BTF


def _calls(program) -> list[int]:
    return [ins.imm for ins in program.instructions if ins.opcode == 0x85]


def test_tracing_macros_give_typed_arguments():
    spec = pybpf.read(TRACING_C.replace("TARGET_PID", "1"))
    assert {p.name for p in spec.programs.values()} >= {"on_atoi", "on_atoi_return", "on_switch"}
    # four printk arguments go through bpf_trace_vprintk (177), in an array
    assert 177 in _calls(spec.programs["on_atoi_return"])
    assert 115 in _calls(spec.programs["on_switch"])      # bpf_probe_read_kernel_str


@needs_kernel
def test_a_libbpf_style_uprobe_sees_its_typed_argument():
    libc = ctypes.CDLL("libc.so.6")
    path = next(line.split()[-1] for line in open("/proc/self/maps") if "libc.so.6" in line)
    spec = pybpf.read(TRACING_C.replace("TARGET_PID", str(os.getpid())))
    with pybpf.load(spec, engine="kernel") as collection:
        with collection.programs["on_atoi"].attach(f"uprobe:{path}:atoi"):
            libc.atoi(b"4096 pybpf-libbpf-style")
        seen = collection.maps["last"][0]           # char[32], decoded through BTF as text
    assert seen == "4096 pybpf-libbpf-style"


@needs_kernel
def test_core_field_facts_and_bitfield_reads_on_the_kernel():
    import threading
    spec = pybpf.read(CORE_C.replace("TARGET_PID", str(os.getpid())))
    with pybpf.load(spec, engine="kernel") as collection:
        with collection.programs["core_facts"].attach():
            tid = threading.get_native_id()
            os.getppid()
        facts = collection.maps["facts"]
        assert facts[0] == tid
        assert facts[1] == 120 + os.getpriority(os.PRIO_PROCESS, 0)   # static_prio: 120 + nice
        assert facts[2] == 3 and facts[3] == 4


def test_userspace_uapi_headers_and_pinning_by_name():
    """<linux/if.h> includes the C library's
    <sys/socket.h> (a shim stands in for it); LIBBPF_PIN_BY_NAME marks a map pinned."""
    from pybpf.object.maps import Pinning

    spec = pybpf.read(r"""
    #include <linux/bpf.h>
    #include <linux/if_ether.h>
    #include <linux/if.h>
    #include <bpf/bpf_helpers.h>
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32);
             __uint(pinning, LIBBPF_PIN_BY_NAME); } vlans SEC(".maps");
    SEC("xdp")
    int vlan(struct xdp_md *ctx)
    {
        __u32 zero = 0, *n = bpf_map_lookup_elem(&vlans, &zero);
        if (n)
            *n += sizeof(struct sockaddr) + ETH_HLEN;
        return XDP_PASS;
    }
    char LICENSE[] SEC("license") = "GPL";
    """)
    assert spec.maps["vlans"].pinning == Pinning.BY_NAME
    with pybpf.load(spec, engine="vm") as collection:
        collection.programs["vlan"].test_run(bytes(64))
        assert collection.maps["vlans"][0] == 16 + 14
