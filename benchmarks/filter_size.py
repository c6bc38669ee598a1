"""Filter program size: instructions pybpf's optimizer emits per expression, beside
libpcap's optimizer (the Debian libpcap tcpdump uses, called through ctypes: pcap_open_dead
+ pcap_compile with optimization on), over the same corpus in one run.

Run: ``python benchmarks/filter_size.py [--show N]``. The corpus is every expression of
libpcap's own accept tests (tests/data/libpcap-tests) for the link types pybpf compiles,
that both compilers accept, plus :data:`COMMON` (the filters people write most); the per-OS loopback variants are left out (one expression,
several expected programs). Prints the totals, their ratio (ours / libpcap's: below 1.0
is smaller), how many expressions each wins, the worst per-expression ratio and the cases
most longer.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import re
import sys
from pathlib import Path

from pybpf.filter import LINK_TYPES, FilterError, compile_filter

SHARED = Path(__file__).resolve().parents[1] / "tests" / "data" / "libpcap-tests" / "accept.jsonl"

#: the filters people write most, on Ethernet, beside libpcap's test corpus
COMMON = [
    "tcp", "udp", "icmp", "ip", "ip6", "arp", "tcp or udp", "port 80", "port 53", "port 80 or port 443",
    "tcp port 80", "tcp port 443", "udp port 53", "tcp port 22", "not port 22", "not port 22 and not port 53",
    "portrange 1-1024", "tcp dst port 80 and host 10.0.0.1", "tcp port 80 and host 10.0.0.1",
    "host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.1", "host 10.0.0.1 or host 10.0.0.2",
    "host 10.0.0.1 and host 10.0.0.2", "net 10.0.0.0/8", "src net 192.168.0.0/16", "not net 10.0.0.0/8",
    "ip multicast", "ip broadcast", "broadcast", "multicast", "ether host 00:11:22:33:44:55", "vlan",
    "vlan 100", "vlan and ip", "vlan 10 and tcp port 80", "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp[tcpflags] == tcp-syn", "icmp[icmptype] == icmp-echo",
    "ip6 and tcp", "icmp6", "not arp", "tcp and not port 22", "udp and not port 53", "ip and not tcp",
    "host 10.0.0.1 and (port 80 or port 443)", "port 53 or tcp", "less 64", "greater 1000",
]


class BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.c_void_p)]


class Libpcap:
    """pcap_compile on a dead handle of a link type: what tcpdump -d would print."""

    def __init__(self):
        path = ctypes.util.find_library("pcap")
        if path is None:
            raise SystemExit("libpcap not found (apt-get install libpcap0.8): nothing to compare against")
        self.lib = ctypes.CDLL(path)
        self.lib.pcap_open_dead.restype = ctypes.c_void_p
        self.lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        self.lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(BpfProgram), ctypes.c_char_p,
                                          ctypes.c_int, ctypes.c_uint32]
        self.lib.pcap_freecode.argtypes = [ctypes.POINTER(BpfProgram)]
        self.lib.pcap_lib_version.restype = ctypes.c_char_p
        self.handles: dict[int, int] = {}

    @property
    def version(self) -> str:
        return self.lib.pcap_lib_version().decode()

    def length(self, expression: str, linktype: int, snaplen: int) -> int | None:
        key = (linktype, snaplen)
        if key not in self.handles:
            self.handles[key] = self.lib.pcap_open_dead(linktype, snaplen)
        program = BpfProgram()
        if self.lib.pcap_compile(self.handles[key], ctypes.byref(program), expression.encode(), 1, 0) != 0:
            return None
        length = program.bf_len
        self.lib.pcap_freecode(ctypes.byref(program))
        return length


def corpus() -> list[tuple[str, str, int]]:
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is absent: the corpus is libpcap's own test expressions")
    seen = set()
    out = []
    for line in SHARED.read_text().splitlines():
        case = json.loads(line)
        if not case["optimize"] or case["skip"] or case["linuxext"] or case["dlt"] not in LINK_TYPES:
            continue
        if case["expr"] == "_enumerate_bpf_image" or re.search(r"_\d+(LE|BE)?_(NULL|LOOP|ENC)$", case["block"]):
            continue
        key = (case["expr"], case["dlt"], case["snaplen"] or 262144)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=5, help="worst cases to list")
    args = parser.parse_args()
    pcap = Libpcap()
    rows = []
    for expression, dlt, snaplen in corpus() + [(e, "EN10MB", 262144) for e in COMMON]:
        theirs = pcap.length(expression, LINK_TYPES[dlt].number, snaplen)
        try:
            ours = len(compile_filter(expression, linktype=dlt, snaplen=snaplen))
        except FilterError:
            ours = None
        if theirs is not None and ours is not None:
            rows.append((ours - theirs, ours, theirs, dlt, expression))
    if not rows:
        raise SystemExit("no expression compiled with both")
    total_ours = sum(r[1] for r in rows)
    total_theirs = sum(r[2] for r in rows)
    print(f"{len(rows)} expressions compiled by both (link types: {', '.join(sorted({r[3] for r in rows}))})")
    print(f"libpcap {pcap.version}: {total_theirs} instructions")
    print(f"pybpf: {total_ours} instructions; ratio ours/libpcap = {total_ours / total_theirs:.3f}")
    print(f"shorter: {sum(r[0] < 0 for r in rows)}, same: {sum(r[0] == 0 for r in rows)}, "
          f"longer: {sum(r[0] > 0 for r in rows)}")
    worst = max(rows, key=lambda r: r[1] / r[2])
    print(f"worst ratio: {worst[1] / worst[2]:.3f} = {worst[1]} vs {worst[2]} instructions "
          f"({worst[3]}: {worst[4]!r}); goal <= 1.0")
    for diff, ours, theirs, dlt, expression in sorted(rows, reverse=True)[: args.show]:
        print(f"  {diff:+4d}  {ours:4d} vs {theirs:4d}  {dlt:<10} {expression!r}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
