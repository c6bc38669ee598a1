"""bpf_loop and bpf_for_each_map_elem on the vm engine: the callback runs in a frame of its
own, stops the iteration by returning 1, sees (and may change) each map element; the
counts, sums and maps equal the kernel's on the same packets."""

from __future__ import annotations

import os
import random

import pytest

import pybpf
from pybpf.isa import assemble
from pybpf.vm import VMError, run_program

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")
pytestmark = pytest.mark.usefixtures("module_cache")

SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } table SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __s64); } out SEC(".maps");

struct walk { __u64 sum; __u32 limit; __u32 xor; };

static long step(__u32 i, void *data)
{
    struct walk *w = data;
    w->sum += (__u64)i * i;
    return i >= w->limit;
}

static long visit(void *map, __u32 *key, __u64 *value, void *data)
{
    struct walk *w = data;
    w->sum += *key * 1000 + *value;
    *value += *key + 1;
    return *key == w->limit;
}

static long tally(void *map, __u32 *key, __u64 *value, void *data)
{
    struct walk *w = data;
    w->xor ^= *key;
    w->sum += *value;
    return 0;
}

static void put(__u32 slot, __s64 value) { bpf_map_update_elem(&out, &slot, &value, BPF_ANY); }

SEC("xdp")
int walker(struct xdp_md *ctx)
{
    unsigned char *p = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (p + 16 > end)
        return XDP_ABORTED;
    struct walk w = { .sum = 0, .limit = p[0] & 31 };
    put(0, bpf_loop(p[1] & 63, step, &w, 0));
    put(1, w.sum);
    w.sum = 0;
    w.limit = p[2] & 15;
    put(2, bpf_for_each_map_elem(&table, visit, &w, 0));
    put(3, w.sum);
    __u32 key = p[3] & 63;
    __u64 one = 1;
    bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST);
    w.sum = 0;
    w.xor = 0;
    put(4, bpf_for_each_map_elem(&seen, tally, &w, 0));
    put(5, w.sum * 65536 + w.xor);
    put(6, bpf_loop(1, step, &w, 1) + bpf_loop(1 << 24, step, &w, 0));
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
"""


def _packets(count: int) -> list[bytes]:
    rng = random.Random(11)
    return [bytes(rng.randrange(256) for _ in range(rng.randrange(16, 80))) for _ in range(count)]


def _run(engine: str, packets: list[bytes]) -> tuple[list, dict]:
    with pybpf.load(pybpf.read(SOURCE), engine=engine) as collection:
        program, out = collection.programs["walker"], collection.maps["out"]
        seen = []
        for packet in packets:
            assert program.test_run(packet).retval == 2
            seen.append(dict(out.items()))
        maps = {name: dict(m.items()) for name, m in collection.maps.items() if name != "seen"}
    return seen, maps


def test_callbacks_run_on_the_vm():
    seen, maps = _run("vm", _packets(20))
    first = seen[0]
    assert first[0] >= 1 and first[2] >= 1                  # the callbacks ran
    # flags: -EINVAL; too many loops: -E2BIG, which the kernel's inlined bpf_loop sets in 32 bits
    assert first[6] == (-22 + (-7 & 0xFFFF_FFFF)) & (2**64 - 1)
    assert sum(maps["table"].values()) > 0                  # the callback wrote the values


@needs_kernel
def test_callbacks_agree_with_the_kernel():
    packets = _packets(60)
    assert _run("vm", packets) == _run("kernel", packets)


def test_a_runaway_callback_is_stopped_by_the_budget():
    """A callback that loops forever inside its frame: the run's budget ends it, and the
    message names the budget."""
    program = assemble("r1 = 2\nr2 = func[spin]\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\n"
                       "spin:\nr0 = 0\nif r0 == 0 goto -1\nexit")
    with pytest.raises(VMError, match="budget|instructions"):
        run_program(program, b"", jit=False, max_instructions=10_000)


def test_callback_counts_and_results_on_the_interpreter():
    """bpf_loop returns the calls made: all of them, or up to the one that returned 1;
    instructions run in callbacks count in the run's budget."""
    loop = "r1 = 10\nr2 = func[body]\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit\nbody:\nr0 = 0\n{stop}\nexit"
    assert run_program(assemble(loop.format(stop="r0 = 0")), b"", jit=True).retval == 10
    stopped = run_program(assemble(loop.format(stop="if r1 != 3 goto +1\nr0 = 1")), b"", jit=True)
    assert stopped.retval == 4 and stopped.instructions > 6 + 4 * 2
