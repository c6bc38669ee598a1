"""Truncated packets (snaplen cuts, header-only captures, runt frames): every frame of the
generated set and of tcpdump's test captures cut at many lengths, filtered by pybpf's
optimized and unoptimized programs and by tcpdump with and without its optimizer (-O).

What holds, and is checked on seeded random expressions of the pcap-filter grammar:

- on every packet where libpcap's answer does not depend on its optimizer (tcpdump and
  tcpdump -O agree), pybpf's unoptimized program gives that answer;
- pybpf's optimized program gives its unoptimized program's answer on every packet the
  unoptimized program does not read past the end of, truncated or not;
- on whole frames long enough for every load of the unoptimized program, pybpf's
  optimized program keeps tcpdump's packets.

Where a load of the unoptimized program runs off the end of a packet, the two optimizers
may answer differently from their unoptimized programs (each drops loads whose values
cannot change the answer, and libpcap's and pybpf's do not drop the same ones): see
docs/filter-language.md, "Truncated packets", and benchmarks/filter_truncated.py.
PYBPF_FILTER_FUZZ=N draws N expressions.
"""

from __future__ import annotations

import os
import random

from probe_packets import link_frames
from tcpdump_oracle import fault_marking, needs_tcpdump, pybpf_kept, tcpdump_kept, write_pcap
from test_filter_random_vs_tcpdump import expression

from pybpf.capture import read_packets
from pybpf.filter import FilterError, compile_filter
from shared_data import SHARED

COUNT = int(os.environ.get("PYBPF_FILTER_FUZZ", "40"))


def truncated_capture() -> list[tuple[bytes, int]]:
    """(captured bytes, wire length): every generated frame, and the first packets of two
    of tcpdump's test captures, whole and cut at every third length from 1 byte up (a
    record of 0 bytes is one tcpdump does not filter)."""
    frames = link_frames("EN10MB")
    savefiles = SHARED / "libpcap-tests" / "savefiles"
    for name in ("ah-ipip-ping.pcap", "AH-IPcomp-IPv6.pcap"):
        frames += [p.data for p in read_packets(savefiles / name) if p.linktype == 1][:4]
    packets = []
    for frame in frames:
        packets += [(frame[:n], len(frame)) for n in range(1, len(frame), 3)]
        packets.append((frame, len(frame)))
    return packets


def libpcap_kept(path, expression_text: str) -> tuple[set[int], set[int]] | None:
    """The record indexes tcpdump keeps, and tcpdump -O (None where it refuses the
    expression)."""
    try:
        return tcpdump_kept(path, expression_text), tcpdump_kept(path, expression_text, "-O")
    except RuntimeError:
        return None


@needs_tcpdump
def test_truncated_packets_against_tcpdump_and_between_optimizer_settings(tmp_path):
    packets = truncated_capture()
    whole = {i for i, (data, wire) in enumerate(packets) if len(data) == wire}
    path = tmp_path / "truncated.pcap"
    write_pcap(path, packets)
    rng = random.Random(20261212)
    compared = 0
    for _ in range(COUNT):
        text = expression(rng)
        try:
            optimized = compile_filter(text)
        except FilterError:
            continue
        plain = compile_filter(text, optimize=False)
        answers = libpcap_kept(path, text)
        if answers is None:
            continue
        libpcap, libpcap_plain = answers
        kept, kept_plain = pybpf_kept(optimized, packets), pybpf_kept(plain, packets)
        settled = {i for i in range(len(packets)) if (i in libpcap) == (i in libpcap_plain)}
        assert kept_plain & settled == libpcap & settled, f"unoptimized differs from libpcap: {text}"
        read_within = pybpf_kept(fault_marking(plain), packets)
        assert kept & read_within == kept_plain & read_within, f"-O changes a packet read within its end: {text}"
        assert kept & whole & read_within == libpcap & whole & read_within, f"differs from tcpdump: {text}"
        compared += 1
    assert compared >= COUNT // 2


def test_fault_marking_tells_a_load_past_the_end_from_a_rejection():
    program = fault_marking(compile_filter("tcp port 80", optimize=False))
    frame = next(f for f in link_frames("EN10MB") if f[12:14] == b"\x08\x00" and f[23] == 6)
    assert pybpf_kept(program, [(frame, len(frame))]) == {0}          # read to its end
    assert pybpf_kept(program, [(frame[:30], len(frame))]) == set()   # [34+] past the end
    udp = next(f for f in link_frames("EN10MB") if f[12:14] == b"\x08\x00" and f[23] == 17)
    assert pybpf_kept(program, [(udp, len(udp))]) == {0}              # rejected, not faulted


@needs_tcpdump
def test_header_only_capture_keeps_what_libpcap_keeps_with_and_without_its_optimizer(tmp_path):
    """The issue's case: a TCP packet captured up to the end of its IPv4 header. libpcap's
    optimizer sees that `port 53 or tcp` holds for TCP whatever the ports and drops their
    loads (tcpdump keeps it); its unoptimized program loads the ports first and runs off
    the end (tcpdump -O drops it). pybpf's two programs give the same two answers, and
    both keep it for `tcp or port 53`, as libpcap's do."""
    frame = next(f for f in link_frames("EN10MB") if f[12:14] == b"\x08\x00" and f[23] == 6)
    packets = [(frame[:34], len(frame))]
    path = tmp_path / "header-only.pcap"
    write_pcap(path, packets)
    for text in ("port 53 or tcp", "tcp or port 53"):
        assert pybpf_kept(compile_filter(text), packets) == tcpdump_kept(path, text), text
        assert pybpf_kept(compile_filter(text, optimize=False), packets) == tcpdump_kept(path, text, "-O"), text
    assert tcpdump_kept(path, "port 53 or tcp") == {0} and tcpdump_kept(path, "port 53 or tcp", "-O") == set()
