"""Truncated packets: how often pybpf's optimized and unoptimized programs, tcpdump and
``tcpdump -O`` keep different packets of a capture whose packets are cut at many lengths.

Run: ``python benchmarks/filter_truncated.py [COUNT] [--seed N]``. Draws COUNT random
expressions from the pcap-filter grammar of tests/filter (seeded), filters the capture
tests/filter/test_filter_truncated_vs_tcpdump.py builds (every generated Ethernet frame
and the first packets of two of tcpdump's test captures, cut at every third length)
with the four, and prints for each pair the number of expressions on which they keep
different packets, then the same for the expressions where tcpdump and ``tcpdump -O``
agree (libpcap's answer does not depend on its optimizer there). The reasons for what
remains are in docs/filter-language.md, "Truncated packets".
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "filter"), str(TESTS)]

from tcpdump_oracle import TCPDUMP, pybpf_kept, write_pcap  # noqa: E402
from test_filter_random_vs_tcpdump import expression  # noqa: E402
from test_filter_truncated_vs_tcpdump import libpcap_kept, truncated_capture  # noqa: E402

from pybpf.filter import FilterError, compile_filter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=200)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if TCPDUMP is None:
        raise SystemExit("tcpdump is not installed: nothing to compare against")
    packets = truncated_capture()
    rng = random.Random(args.seed)
    pairs = ("pybpf/tcpdump", "pybpf -O/tcpdump -O", "pybpf/pybpf -O", "tcpdump/tcpdump -O")
    differ = dict.fromkeys(pairs, 0)
    settled_differ = dict.fromkeys(pairs, 0)
    compared = settled = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "truncated.pcap"
        write_pcap(path, packets)
        for _ in range(args.count):
            text = expression(rng)
            try:
                optimized, plain = compile_filter(text), compile_filter(text, optimize=False)
            except FilterError:
                continue
            answers = libpcap_kept(path, text)
            if answers is None:
                continue
            libpcap, libpcap_plain = answers
            kept, kept_plain = pybpf_kept(optimized, packets), pybpf_kept(plain, packets)
            compared += 1
            agree = libpcap == libpcap_plain
            settled += agree
            for name, a, b in zip(pairs, (kept, kept_plain, kept, libpcap), (libpcap, libpcap_plain, kept_plain,
                                                                               libpcap_plain)):
                if a != b:
                    differ[name] += 1
                    settled_differ[name] += agree
    print(f"{len(packets)} packets, {compared} expressions compiled by both (seed {args.seed})")
    print("expressions on which the two keep different packets:")
    for name in pairs:
        print(f"  {name:<22} {differ[name]:4d} of {compared}   where tcpdump = tcpdump -O: "
              f"{settled_differ[name]:4d} of {settled}")


if __name__ == "__main__":
    main()
