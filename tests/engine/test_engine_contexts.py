"""Program contexts on every engine: what a test run shows a program of each type
(``__sk_buff`` fields, legacy packet loads through r6, direct packet access for tc and
XDP) — the same answers from the kernel and the vm."""

from __future__ import annotations

import pytest

from pybpf.engine import VerifierError, load
from pybpf.isa import assemble
from pybpf.object import ProgramSpec

# an Ethernet header (IPv4), then an IPv4 header whose TTL byte is 0x40, then padding
PACKET = bytes(12) + b"\x08\x00" + b"\x45\x00\x00\x32" + bytes(4) + b"\x40\x11" + bytes(44)

CASES = [
    ("socket_filter", "r0 = *(u32 *)(r1 +0)\nexit", len(PACKET) - 14),              # skb->len
    ("sched_cls", "r0 = *(u32 *)(r1 +0)\nexit", len(PACKET)),
    ("socket_filter", "r0 = *(u32 *)(r1 +16)\nexit", 0x0008),                        # protocol, network order
    ("socket_filter", "r6 = r1\nr0 = *(u8 *)skb[8]\nexit", 0x40),                   # the IPv4 TTL
    ("sched_cls", "r6 = r1\nr0 = *(u16 *)skb[12]\nexit", 0x0800),                   # the EtherType
    ("sched_cls", "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr3 -= r2\nr0 = r3\nexit", len(PACKET)),
    ("xdp", "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr3 -= r2\nr0 = r3\nexit", len(PACKET)),
    ("xdp", "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\n"
            "if r4 > r3 goto +2\nr0 = *(u16 *)(r2 +12)\nexit\nr0 = 0\nexit", 0x0008),  # a bounds-checked read
]


@pytest.mark.parametrize("kind, text, expected", CASES)
def test_contexts_agree(engine, kind, text, expected):
    with load(ProgramSpec("ctx", kind, assemble(text)), engine=engine) as coll:
        assert coll.programs["ctx"].test_run(PACKET).retval == expected


def test_legacy_packet_load_needs_r6(engine):
    with pytest.raises(VerifierError) as caught:
        load(ProgramSpec("noctx", "socket_filter", assemble("r0 = *(u8 *)skb[0]\nexit")), engine=engine)
    assert "R6 !read_ok" in caught.value.log
