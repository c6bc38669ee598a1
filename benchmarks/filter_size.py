"""Filter program size: instructions pybpf's optimizer emits per expression, beside
libpcap's optimizer, over the same corpus in one run.

Run: ``python benchmarks/filter_size.py [--show N] [--random N [--seed S]]``. The corpus is every expression of
libpcap's own accept tests (tests/data/libpcap-tests) for the link types pybpf compiles,
that both compilers accept (the per-OS loopback variants left out: one expression,
several expected programs), plus :data:`COMMON` and :data:`CHAINS` (the filters people
write most, and long or-chains of them) on every link type the corpus uses.

libpcap's program for a row is the smaller of two, among those that keep the same
packets as pybpf's (the same return value on every whole probe packet of
tests/filter/probe_packets.py, run in pybpf's cBPF interpreter):

- the installed libpcap's (Debian's, the one tcpdump uses, called through ctypes:
  pcap_open_dead + pcap_compile with optimization on);
- for the rows of libpcap's test corpus, the program libpcap's own test expects (its
  master branch), which differs where the two versions differ in semantics: on DLT_NULL,
  LOOP, ENC and PFLOG captures 1.10.3 tests only Linux's AF_INET6 value (10) where master
  (and pybpf) test every BSD value in both byte orders; master tests ``ip multicast`` as
  224.0.0.0/4, 1.10.3 as ``>= 224``; master masks the IS-IS PDU type; 1.10.3 drops the
  load of ``byte N | M``; 1.10.3 reads the IP header of Frame Relay at the wrong offset.

A program shorter than pybpf's counts only if it also answers as pybpf's on truncated
probes and on every value of each byte either program loads alone (see
:func:`_same_packets`).

A row where neither keeps pybpf's packets is not a size comparison: it is counted and
listed apart ("different semantics"), never hidden. Prints the totals, their ratio (ours
/ libpcap's: below 1.0 is smaller), how many expressions each wins, the worst
per-expression ratio and the cases most longer.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "filter"))
from probe_packets import link_frames, probe  # noqa: E402  (the tests' probe packets)

from pybpf.cbpf import Instruction, parse_dump, run  # noqa: E402
from pybpf.filter import LINK_TYPES, FilterError, compile_filter  # noqa: E402

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


#: or-chains as long lists of hosts, ports and nets make them
CHAINS = [
    " or ".join(f"host 10.0.0.{i}" for i in range(1, 11)),
    " or ".join(f"host 10.0.{i // 250}.{i % 250 + 1}" for i in range(40)),
    " or ".join(f"port {p}" for p in (20, 21, 22, 23, 25, 53, 80, 110, 143, 443)),
    " or ".join(f"tcp port {p}" for p in (22, 80, 443, 8080, 8443)),
    " or ".join(f"src host 10.0.0.{i}" for i in range(1, 9)),
    " and ".join(f"not host 10.0.0.{i}" for i in range(1, 9)),
    " or ".join(f"net 10.{i}.0.0/16" for i in range(1, 9)),
    " or ".join(f"host fe80::{i}" for i in range(1, 5)),
    "host 10.0.0.1 and (port 80 or port 443 or port 8080)",
    "tcp port 80 or udp port 53 or icmp",
    "not (port 22 or port 23 or port 53)",
    "ip and (tcp or udp or icmp)",
]


class BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(BpfInsn))]


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
        self.handles: dict[tuple[int, int], int] = {}

    @property
    def version(self) -> str:
        return self.lib.pcap_lib_version().decode()

    def compile(self, expression: str, linktype: int, snaplen: int) -> list[Instruction] | None:
        key = (linktype, snaplen)
        if key not in self.handles:
            self.handles[key] = self.lib.pcap_open_dead(linktype, snaplen)
        program = BpfProgram()
        if self.lib.pcap_compile(self.handles[key], ctypes.byref(program), expression.encode(), 1, 0) != 0:
            return None
        out = [Instruction(i.code, i.jt, i.jf, i.k) for i in program.bf_insns[: program.bf_len]]
        self.lib.pcap_freecode(ctypes.byref(program))
        return out


def corpus() -> list[tuple[str, str, int, str | None]]:
    """(expression, link type, snapshot length, libpcap master's expected program or None)."""
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
            out.append((*key, case["expected"]))
    links = sorted({dlt for _, dlt, _, _ in out})
    return out + [(e, dlt, 262144, None) for dlt in links for e in COMMON + CHAINS]


def random_corpus(count: int, seed: int) -> list[tuple[str, str, int, str | None]]:
    """``count`` expressions on Ethernet drawn from the pcap-filter grammar as the random
    comparison with tcpdump draws them (tests/filter/test_filter_random_vs_tcpdump.py):
    expressions nobody picked, for the size goal's "no expression longer"."""
    import random

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_filter_random_vs_tcpdump import expression

    rng = random.Random(seed)
    return [(expression(rng), "EN10MB", 262144, None) for _ in range(count)]


#: loopback link types whose header holds an AF_ value: the installed libpcap compiles for
#: a live Linux capture (AF_INET6 is 10), pybpf (as libpcap master for capture files) for
#: every BSD value (24, 28, 30), in both byte orders on NULL and ENC
_LOOPBACK = {"NULL", "LOOP", "ENC", "PFLOG"}
_LINUX_INET6 = {10, 10 << 24}
_BSD_INET6 = {v << s for v in (24, 28, 30) for s in (0, 24)}


def _compared(program: list[Instruction]) -> set[int]:
    """The constants the conditional jumps of ``program`` compare A with."""
    return {i.k for i in program if i.code & 0x07 == 0x05 and i.code & 0xF0 and not i.code & 0x08}


def _byte_sweeps(programs: list[list[Instruction]], frames: list[bytes]) -> list[bytes]:
    """``frames`` with each byte a program loads on its own (``ldb [k]``) set to every
    value: a mask or a range one program tests and the other not (``jge #0xe0`` against
    ``and #0xf0; jeq #0xe0``) shows on some of them."""
    offsets = {i.k for p in programs for i in p if i.code == 0x30}
    out = []
    for k in sorted(offsets):
        for frame in [f for f in frames if len(f) > k][:6]:
            out += [frame[:k] + bytes([v]) + frame[k + 1:] for v in range(256)]
    return out


def _same_packets(ours: list[Instruction], theirs: list[Instruction], dlt: str, label: str) -> bool:
    """Both return the same on every whole probe packet (truncated ones left out: each
    optimizer drops loads whose values cannot change the answer, differently). A program
    shorter than ours must also answer as ours on the truncated probes and on every value
    of each byte either loads alone: shorter because it tests less (1.10.3's ``byte 8 |
    5`` reads no byte at all) is not smaller. On the loopback link types, a program
    testing only Linux's AF_INET6 against one testing the BSD values differs on IPv6
    packets however few probe packets show it."""
    if dlt in _LOOPBACK and _compared(theirs) & _LINUX_INET6 and _compared(ours) & _BSD_INET6 \
            and not _compared(theirs) & _BSD_INET6:
        return False
    packets = probe([ours, theirs], dlt, label, count=400)
    if len(theirs) < len(ours):
        # swept from the probe packets either accepts: those reach the tests that differ
        packets += _byte_sweeps([ours, theirs], [p for p in packets if run(ours, p) or run(theirs, p)])
    else:
        packets = packets[: len(packets) - len(link_frames(dlt))]
    return all(run(ours, p) == run(theirs, p) for p in packets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=5, help="worst cases to list")
    parser.add_argument("--random", type=int, metavar="N",
                        help="instead of the corpus, N random expressions on Ethernet")
    parser.add_argument("--seed", type=int, default=1, help="the random expressions' seed")
    args = parser.parse_args()
    pcap = Libpcap()
    rows = []
    apart = []
    for expression, dlt, snaplen, expected in (random_corpus(args.random, args.seed) if args.random else corpus()):
        try:
            ours = compile_filter(expression, linktype=dlt, snaplen=snaplen)
        except FilterError:
            continue
        installed = pcap.compile(expression, LINK_TYPES[dlt].number, snaplen)
        if installed is None:
            continue
        references = [installed] + ([parse_dump(expected)] if expected else [])
        label = f"{dlt} {expression}"
        same = [len(r) for r in references if _same_packets(ours, r, dlt, label)]
        if same:
            rows.append((len(ours) - min(same), len(ours), min(same), dlt, expression))
        else:
            apart.append((len(ours), len(installed), dlt, expression))
    if not rows:
        raise SystemExit("no expression compiled with both")
    total_ours = sum(r[1] for r in rows)
    total_theirs = sum(r[2] for r in rows)
    print(f"{len(rows)} expressions compiled by both (link types: {', '.join(sorted({r[3] for r in rows}))})")
    print(f"libpcap ({pcap.version}, or its master's test expectation): {total_theirs} instructions")
    print(f"pybpf: {total_ours} instructions; ratio ours/libpcap = {total_ours / total_theirs:.3f}")
    print(f"shorter: {sum(r[0] < 0 for r in rows)}, same: {sum(r[0] == 0 for r in rows)}, "
          f"longer: {sum(r[0] > 0 for r in rows)}")
    worst = max(rows, key=lambda r: r[1] / r[2])
    print(f"worst ratio: {worst[1] / worst[2]:.3f} = {worst[1]} vs {worst[2]} instructions "
          f"({worst[3]}: {worst[4]!r}); goal <= 1.0")
    for diff, ours_len, theirs, dlt, expression in sorted(rows, reverse=True)[: args.show]:
        print(f"  {diff:+4d}  {ours_len:4d} vs {theirs:4d}  {dlt:<10} {expression!r}")
    print(f"different semantics (no libpcap program keeps pybpf's packets; not compared): {len(apart)}")
    for ours_len, theirs, dlt, expression in sorted(apart, key=lambda r: (r[2], r[3]))[: args.show]:
        print(f"        {ours_len:4d} vs {theirs:4d}  {dlt:<10} {expression[:70]!r}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
