"""``pybpf replay``'s counts-only path runs every packet of a batch in one XDP frame and
zeroes only what the packet before left past the new packet's end (everything, after a
helper ran): a packet that grows its tail with bpf_xdp_adjust_tail into bytes an earlier,
longer packet wrote, or moves its start into a headroom an earlier packet wrote, must
still find zeros there, as on the interpreter."""

from __future__ import annotations

import random

import pytest

import pybpf
from pybpf.capture import LinkType, PcapWriter, open_capture
from pybpf.replay import replay, replay_summary

pytest.importorskip("llvmlite.binding")
pytest.importorskip("numpy")
pytestmark = pytest.mark.usefixtures("module_cache")

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 16 > end)
        return XDP_ABORTED;
    for (int i = 0; i < 96; i++) {          /* dirty the packet's own bytes */
        if (data + i + 1 > end)
            break;
        data[i] = 0xAA;
    }
    u32 length = ((long)end - (long)data) & 127;
    if (length % 3 == 1)
        return XDP_PASS;
    if (length % 3 == 2) {              /* move the start into the headroom, read it, dirty it */
        if (bpf_xdp_adjust_head(ctx, -16))
            return XDP_ABORTED;
        data = (void *)(long)ctx->data;
        end = (void *)(long)ctx->data_end;
        if (data + 16 > end)
            return XDP_ABORTED;
        u32 head = 0;
        for (int i = 0; i < 16; i++) {
            head += data[i];
            data[i] = 0xBB;
        }
        return head ? XDP_DROP : XDP_REDIRECT;
    }
    if (bpf_xdp_adjust_tail(ctx, 32))
        return XDP_ABORTED;
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    u8 *grown = data + length;
    if (grown + 32 > end)
        return XDP_ABORTED;
    u32 sum = 0;
    for (int i = 0; i < 32; i++)
        sum += grown[i];
    return sum ? XDP_DROP : XDP_TX;
}
LICENSE("GPL");
"""


def test_grown_tails_read_zeros_in_the_shared_frame(tmp_path):
    rng = random.Random(5)
    packets = []
    for _ in range(400):        # packets that only write themselves (16, 61, 121), grow (18, 21), or move their start
        packets.append(bytes(rng.randrange(256) for _ in range(rng.choice([16, 18, 20, 21, 61, 89, 121]))))
    capture = tmp_path / "frames.pcap"
    writer = PcapWriter(str(capture), LinkType.EN10MB, nanosecond=True)
    for i, packet in enumerate(packets):
        writer.write(packet, i)
    writer.close()
    spec = pybpf.read(SOURCE, name="frames")
    with pybpf.load(spec, engine="vm") as jit, open_capture(str(capture)) as records:
        counted = replay_summary(jit.programs["prog"], records, str(capture))
    assert counted is not None, "the native path ran"
    with pybpf.load(spec, engine="vm", jit=False) as ref:
        results = list(replay(ref.programs["prog"], packets))
    want = {}
    for result in results:
        want[result.verdict] = want.get(result.verdict, 0) + 1
    assert dict(counted.counts) == want
    assert want.get("XDP_TX", 0) > 20 and want.get("XDP_REDIRECT", 0) > 20
    assert "XDP_DROP" not in want       # grown tails and the headroom read zeros
    assert counted.bytes_out == sum(len(r.data) for r in results if r.passed)
