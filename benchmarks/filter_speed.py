"""``pybpf filter -r big.pcap -w out EXPR`` beside ``tcpdump -r big.pcap -w /dev/null EXPR``.

Run: ``python benchmarks/filter_speed.py [PACKETS] [--capture FILE] [--expression EXPR]``
(1,000,000 generated packets by default; ``--capture`` times a capture of yours). It writes a
pcap of mixed Ethernet traffic (TCP to ports 80/443/22, DNS over UDP, ICMP, ARP, IPv6;
about one packet in eight matches) to a temporary directory, then times each row
:data:`RUNS` times (interleaved with tcpdump, so that a busy spell of a shared machine
falls on both) and prints the best and the median:

- tcpdump, the anchor (its start-up is a few milliseconds, so its time is its work);
  every tool writes its matches to /dev/null in the timed runs (the counts are checked
  on a separate run that writes a file);
- ``pybpf filter`` as a command: with empty caches (Python start-up, imports, compiling
  the expression, compiling the filter and the pcap walker with LLVM and saving them,
  then the work), and with warm ones (the compiled expression, filter and walker loaded
  from the disk caches instead — what every run after the first of an expression is),
  on as many threads as there are CPUs and on one (``PYBPF_FILTER_THREADS=1``). Each
  command row runs with a cache directory of its own in the temporary directory.
  Python's bytecode cache is used as an installed package uses it: where
  PYTHONDONTWRITEBYTECODE is set (some CI and sandbox set-ups), it is unset for these
  runs, and an untimed run writes it first;
- ``pybpf filter`` in a warm process (imports done, compiled code cached): the work alone,
  which is what grows with the file;
- dpkt and scapy, reading and filtering the same file in Python, where installed (the
  benchmark says so where not), for the default expression only (their filters are
  written for it by hand). scapy decodes every layer of every packet, so it is
  timed on a prefix of the file and scaled up, as the output says.

Every tool's match count is checked against tcpdump's. Ratios are time / tcpdump time,
best to best and median to median; the CPU columns are the best run's CPU time (user +
system, of the process and of the commands it ran), which other jobs on a shared machine
change much less than the wall time. The load average before and after is printed: on a
shared machine, other jobs change every figure.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

EXPRESSION = DEFAULT_EXPRESSION = "tcp port 80 and host 10.0.0.1"
SCAPY_SAMPLE = 20_000
#: timed runs of tcpdump and of each command row
RUNS = 7


def _ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def _frames(rng: random.Random) -> list[bytes]:
    """200 distinct frames of the kinds a busy LAN carries; a tenth are port-80 TCP to or
    from 10.0.0.1, which the expression accepts."""
    macs = bytes.fromhex("aa000400140e0800271e28d1")

    def ether(payload: bytes, ethertype: int) -> bytes:
        return macs + struct.pack("!H", ethertype) + payload

    def ipv4(payload: bytes, proto: int, src: str, dst: str) -> bytes:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, _ip(src), _ip(dst)) + payload

    def tcp(sport: int, dport: int, size: int) -> bytes:
        return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x18, 512, 0, 0) + b"x" * size

    frames = []
    for _ in range(200):
        size = rng.choice([0, 40, 200, 1400])
        kind = rng.random()
        peer = f"10.0.{rng.randrange(3)}.{rng.randrange(2, 250)}"
        if kind < 0.1:
            segment = tcp(rng.randrange(1024, 65536), 80, size)
            src, dst = ("10.0.0.1", peer) if rng.random() < 0.5 else (peer, "10.0.0.1")
            frames.append(ether(ipv4(segment, 6, src, dst), 0x0800))
        elif kind < 0.5:
            segment = tcp(rng.randrange(1024, 65536), rng.choice([443, 22, 80, 8080]), size)
            frames.append(ether(ipv4(segment, 6, peer, "10.0.2.2"), 0x0800))
        elif kind < 0.75:
            dns = struct.pack("!HHHH", rng.randrange(1024, 65536), 53, 8 + size, 0) + b"q" * size
            frames.append(ether(ipv4(dns, 17, "10.0.0.1", "10.0.0.53"), 0x0800))
        elif kind < 0.85:
            echo = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"p" * 56
            frames.append(ether(ipv4(echo, 1, peer, "10.0.0.1"), 0x0800))
        elif kind < 0.92:
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, macs[6:], _ip(peer), bytes(6), _ip("10.0.0.1"))
            frames.append(ether(arp, 0x0806))
        else:
            segment = tcp(rng.randrange(1024, 65536), 80, size)
            header = struct.pack("!IHBB16s16s", 6 << 28, len(segment), 6, 64, _ip("2001:db8::1"), _ip("2001:db8::2"))
            frames.append(ether(header + segment, 0x86DD))
    return frames


def generate(path: str, packets: int) -> None:
    rng = random.Random(1)
    frames = _frames(rng)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        chunk = []
        for i in range(packets):
            frame = frames[rng.randrange(len(frames))]
            chunk.append(struct.pack("<IIII", 1_700_000_000 + i // 1000, i % 1000 * 1000, len(frame), len(frame)))
            chunk.append(frame)
            if len(chunk) >= 200_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children so far: on a
    shared machine, other jobs stretch wall time far more than the CPU time a run uses."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(runs: int, work: Callable[[], int], anchor: Callable[[], int] | None = None,
          anchor_times: list[tuple[float, float]] | None = None) -> tuple[list[tuple[float, float]], int]:
    """The (wall, CPU) times of ``runs`` calls, and what the calls returned (a count);
    with ``anchor``, each call is followed by a timed call of it, added to ``anchor_times``."""
    times, result = [], 0
    for _ in range(runs):
        start, cpu = time.perf_counter(), cpu_seconds()
        result = work()
        times.append((time.perf_counter() - start, cpu_seconds() - cpu))
        if anchor is not None and anchor_times is not None:
            start, cpu = time.perf_counter(), cpu_seconds()
            anchor()
            anchor_times.append((time.perf_counter() - start, cpu_seconds() - cpu))
    return times, result


def count_records(path: str) -> int:
    from pybpf.capture import read_packets

    return sum(1 for _ in read_packets(path))


def tcpdump(big: str, out: str) -> Callable[[], int]:
    def work() -> int:
        subprocess.run(["tcpdump", "-r", big, "-w", out, EXPRESSION], check=True, capture_output=True)
        return -1
    return work


def _command_env(cache_root: str, threads: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYBPF_FILTER_THREADS")}
    env["PYBPF_CACHE"] = cache_root
    if threads is not None:
        env["PYBPF_FILTER_THREADS"] = str(threads)
    return env


def pybpf_command(big: str, out: str, cache_root: str, cold: bool, threads: int | None = None) -> Callable[[], int]:
    """``pybpf filter`` in a new process; ``cold``: with its caches emptied first (the
    compiled expression and the JIT's code share the cache root)."""
    command = [sys.executable, "-m", "pybpf", "filter", "-r", big, "-w", out, EXPRESSION]
    env = _command_env(cache_root, threads)
    subprocess.run(command, check=True, capture_output=True, env=env)     # bytecode, and a warm cache

    def work() -> int:
        if cold:
            shutil.rmtree(cache_root, ignore_errors=True)
        subprocess.run(command, check=True, capture_output=True, env=env)
        return -1
    return work


def pybpf_warm(big: str, out: str) -> Callable[[], int]:
    from pybpf.cli import main

    def work() -> int:
        with contextlib.redirect_stderr(io.StringIO()):     # "reading from file ..."
            status = main(["filter", "-r", big, "-w", out, EXPRESSION])
        assert status == 0
        return -1
    work()      # imports and compiled code, as a long-running process would have them
    return work


def dpkt_filter(big: str, out: str) -> Callable[[], int]:
    import dpkt

    host = _ip("10.0.0.1")

    def work() -> int:
        matched = 0
        with open(big, "rb") as f, open(out, "wb") as sink:
            writer = dpkt.pcap.Writer(sink)
            for timestamp, buf in dpkt.pcap.Reader(f):
                try:
                    eth = dpkt.ethernet.Ethernet(buf)
                except dpkt.UnpackError:        # cut short: no match, as in tcpdump
                    continue
                ip = eth.data
                if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                    continue
                segment = ip.data
                if (segment.sport == 80 or segment.dport == 80) and host in (ip.src, ip.dst):
                    writer.writepkt(buf, timestamp)
                    matched += 1
        return matched
    return work


def scapy_filter(big: str, out: str, sample: int) -> Callable[[], int]:
    from scapy.layers.inet import IP, TCP
    from scapy.utils import PcapReader, PcapWriter

    def work() -> int:
        matched = 0
        with PcapReader(big) as reader, PcapWriter(out) as writer:
            for n, packet in enumerate(reader):
                if n >= sample:
                    break
                if IP in packet and TCP in packet and 80 in (packet[TCP].sport, packet[TCP].dport) \
                        and "10.0.0.1" in (packet[IP].src, packet[IP].dst):
                    writer.write(packet)
                    matched += 1
        return matched
    return work


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def _arguments() -> tuple[int, str | None, str]:
    """(packets to generate, a capture given instead, the expression)."""
    import argparse

    parser = argparse.ArgumentParser(description="pybpf filter beside tcpdump on one capture")
    parser.add_argument("packets", nargs="?", type=int, default=1_000_000, help="packets to generate")
    parser.add_argument("--capture", metavar="FILE", help="time this capture instead of a generated one "
                        "(e.g. tcpdump's test captures concatenated, or one taken with pybpf filter -i lo)")
    parser.add_argument("--expression", default=EXPRESSION, help=f"the filter (default: {EXPRESSION!r})")
    args = parser.parse_args()
    return args.packets, args.capture, args.expression


def main() -> None:
    global EXPRESSION
    packets, given, EXPRESSION = _arguments()
    if shutil.which("tcpdump") is None:
        sys.exit("tcpdump is not installed: it is this benchmark's anchor")
    from pybpf.pcapfilter.run import threads

    print(f"{os.cpu_count()} CPUs, {threads()} filter threads; load average before: {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        big, out = os.path.join(tmp, "big.pcap"), os.path.join(tmp, "out.pcap")
        start = time.perf_counter()
        if given:
            big = os.path.abspath(given)
            packets = count_records(big)
        else:
            generate(big, packets)
        size = os.path.getsize(big)
        print(f"{packets:,} packets, {size / 1e6:.0f} MB, {'given' if given else 'generated'} in "
              f"{time.perf_counter() - start:.1f} s; filter {EXPRESSION!r}")
        tcpdump(big, out)()
        expected = count_records(out)
        anchor = tcpdump(big, os.devnull)
        sample = min(SCAPY_SAMPLE, packets)
        rows: list[tuple[str, Callable[[str], Callable[[], int]], float]] = [
            ("pybpf filter (command, empty caches)",
             lambda target: pybpf_command(big, target, os.path.join(tmp, "jit-cold"), cold=True), 1.0),
            ("pybpf filter (command, warm caches)",
             lambda target: pybpf_command(big, target, os.path.join(tmp, "jit-warm"), cold=False), 1.0),
            ("pybpf filter (command, warm, 1 thread)",
             lambda target: pybpf_command(big, target, os.path.join(tmp, "jit-warm"), cold=False, threads=1), 1.0),
            ("pybpf filter (warm process)", lambda target: pybpf_warm(big, target), 1.0),
            ("dpkt read + filter + write", lambda target: dpkt_filter(big, target), 1.0),
            (f"scapy (first {sample:,}, scaled)", lambda target: scapy_filter(big, target, sample), packets / sample),
        ]
        anchor_times: list[tuple[float, float]] = []
        lines = []
        for name, make, scale in rows:
            if name.startswith(("dpkt", "scapy")) and EXPRESSION != DEFAULT_EXPRESSION:
                lines.append((name, None, 0, 1.0, f" skipped: written for {DEFAULT_EXPRESSION!r} only"))
                continue
            try:
                work = make(os.devnull)         # all write to /dev/null, as the tcpdump run does
            except ImportError as exc:
                lines.append((name, None, 0, 1.0, f" skipped: {exc.name} is not installed"))
                continue
            interleaved = scale == 1.0 and not name.startswith("dpkt")
            times, matched = timed(RUNS if interleaved else 1, work, anchor if interleaved else None, anchor_times)
            if matched < 0:                     # a command: count what it writes to a file
                make(out)()
                matched = count_records(out)
            if scale == 1.0:
                assert matched == expected, f"{name} matched {matched}, tcpdump {expected}"
            note = "" if scale == 1.0 else f" (x{scale:.0f} of {matched:,} matched)"
            lines.append((name, [(wall * scale, cpu * scale) for wall, cpu in times],
                          matched if scale == 1.0 else round(matched * scale), scale, note))
        walls, cpus = [wall for wall, _ in anchor_times], [cpu for _, cpu in anchor_times]
        best, middle, best_cpu = min(walls), statistics.median(walls), min(cpus)
        print(f"{'tool':<40} {'best s':>8} {'median s':>9} {'matched':>9} {'/ tcpdump':>10} {'(median)':>9} "
              f"{'CPU s':>7} {'/ tcpdump':>10}")
        print(f"{'tcpdump -r -w':<40} {best:>8.3f} {middle:>9.3f} {expected:>9,} {1.0:>10.2f} {1.0:>9.2f} "
              f"{best_cpu:>7.3f} {1.0:>10.2f}")
        for name, times, matched, _scale, note in lines:
            if times is None:
                print(f"{name:<40}{note}")
                continue
            low, mid = min(wall for wall, _ in times), statistics.median(wall for wall, _ in times)
            low_cpu = min(cpu for _, cpu in times)
            print(f"{name:<40} {low:>8.3f} {mid:>9.3f} {matched:>9,} {low / best:>10.2f} {mid / middle:>9.2f} "
                  f"{low_cpu:>7.3f} {low_cpu / best_cpu:>10.2f}{note}")
        print(f"tcpdump: {len(walls)} runs, {min(walls):.3f}-{max(walls):.3f} s; "
              f"load average after: {_load()}")


if __name__ == "__main__":
    main()
