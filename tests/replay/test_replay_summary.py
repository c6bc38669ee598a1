"""``replay_summary`` — the capture walked natively into the vm JIT's packet loop, counts
only (what ``pybpf replay`` without -w/--json/-v prints) — gives the verdict counts,
bytes in and out, and final maps that ``replay`` gives packet by packet on the
interpreter, for every replay program (runts and cut headers counted as ERROR)."""

from __future__ import annotations

import pytest
from test_replay_engines import PROGRAMS, generated_packets

import pybpf
from pybpf.capture import LinkType, PcapWriter, open_capture
from pybpf.replay import Summary, replay, replay_summary

pytest.importorskip("llvmlite.binding")


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("jit_replay") / "mixed.pcap"
    writer = PcapWriter(str(path), LinkType.EN10MB, nanosecond=True)
    for i, packet in enumerate(generated_packets(21, 3000)):
        writer.write(packet, i)
    writer.close()
    return str(path)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_native_counts_equal_the_interpreters(name, capture):
    spec = pybpf.read(PROGRAMS[name], name=name)
    with pybpf.load(spec, engine="vm", jit=False) as coll, open_capture(capture) as packets:
        expected = Summary()
        for result in replay(coll.programs["prog"], packets):
            expected.add(result)
        expected_maps = {n: sorted(m.items()) for n, m in coll.maps.items()}
    with pybpf.load(spec, engine="vm") as coll, open_capture(capture) as packets:
        counted = replay_summary(coll.programs["prog"], packets, capture)
        maps = {n: sorted(m.items()) for n, m in coll.maps.items()}
    assert counted is not None
    assert (counted.packets, counted.bytes_in, counted.bytes_out, counted.counts) == \
        (expected.packets, expected.bytes_in, expected.bytes_out, expected.counts)
    assert maps == expected_maps
    assert counted.counts["ERROR"] and len(counted.counts) >= 2


def test_no_native_counts_on_the_interpreter(capture):
    spec = pybpf.read(PROGRAMS["socket_len"], name="socket_len")
    with pybpf.load(spec, engine="vm", jit=False) as coll, open_capture(capture) as packets:
        assert replay_summary(coll.programs["prog"], packets, capture) is None


#: verdicts on both sides of the native tally's range: tc's negative actions and unknown
#: codes, a socket filter's -1 (accept all) and lengths past 64 KiB
WIDE_VERDICTS = {
    "tc_wide": r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
SEC("tc")
int prog(struct __sk_buff *skb)
{
    u32 pick = skb->len % 5;
    return pick == 0 ? -1 : pick == 1 ? 2 : pick == 2 ? 100000 + skb->len : pick == 3 ? -3 : 0;
}
LICENSE("GPL");
""",
    "socket_wide": r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
SEC("socket")
int prog(struct __sk_buff *skb)
{
    u32 pick = skb->len % 4;
    return pick == 0 ? -1 : pick == 1 ? 0x20000 : pick == 2 ? 30 : 0;
}
LICENSE("GPL");
""",
}


@pytest.mark.parametrize("name", sorted(WIDE_VERDICTS))
def test_native_tally_and_numpy_fallback_agree_with_the_interpreter(name, capture):
    spec = pybpf.read(WIDE_VERDICTS[name], name=name)
    with pybpf.load(spec, engine="vm", jit=False) as coll, open_capture(capture) as packets:
        expected = Summary()
        for result in replay(coll.programs["prog"], packets):
            expected.add(result)
    with pybpf.load(spec, engine="vm") as coll, open_capture(capture) as packets:
        counted = replay_summary(coll.programs["prog"], packets, capture)
    assert counted is not None
    assert (counted.packets, counted.bytes_in, counted.bytes_out, counted.counts) == \
        (expected.packets, expected.bytes_in, expected.bytes_out, expected.counts)
    assert len(counted.counts) >= 3
