"""Packets per second through `pybpf.replay` on the vm and kernel engines, beside
`bpftool prog run` called per packet (what a user does today), for a small XDP parser
(two map lookups and an update per IPv4 packet) and a socket filter without helpers;
and for an XDP per-source counter over traffic from 3,000 addresses (a hash lookup per
packet; on a miss an update with BPF_NOEXIST, on a hit an atomic add), with the hash
map's native tables (pybpf.vm.jit.hashes) and without them (every miss and update a
callback into Python, as before them).

    sudo python benchmarks/replay.py [PACKETS]

Per program: ``replay`` (a PacketResult per packet, the vm engine's JIT packet loop
under it), ``native loop`` (``replay_summary``: the pcap walked natively into the JIT's
``bpf_packets``, counts only — what ``pybpf replay`` without -w/--json/-v runs; best of
three), and the whole ``pybpf replay`` command on a pcap of PACKETS packets (start-up and
cache hits included; run once before to fill the compile caches; best of three). The kernel engine and bpftool
need root; without it only the vm engine is measured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "replay"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_replay_engines import PROGRAMS, generated_packets  # noqa: E402

import pybpf  # noqa: E402
from pybpf.capture import LinkType, PcapWriter, open_capture  # noqa: E402
from pybpf.replay import replay_summary, replay_verdicts  # noqa: E402
from pybpf.termination import run_interruptible  # noqa: E402


def rate(engine: str, spec: pybpf.CollectionSpec, packets: list[bytes]) -> float:
    with pybpf.load(spec, engine=engine) as coll:
        prog = coll.programs["prog"]
        start = time.perf_counter()
        replay_verdicts(prog, packets)
        return len(packets) / (time.perf_counter() - start)


def bpftool_rate(spec: pybpf.CollectionSpec, packets: list[bytes], count: int = 200) -> float | None:
    """bpftool prog run, one process per packet, on a pinned copy of the program."""
    if os.geteuid() != 0 or shutil.which("bpftool") is None:
        return None
    if not os.path.ismount("/sys/fs/bpf"):
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
    pin = f"/sys/fs/bpf/pybpf_bench_replay_{os.getpid()}"
    with pybpf.load(spec, engine="kernel") as coll, tempfile.TemporaryDirectory() as tmp:
        coll.programs["prog"].pin(pin)
        try:
            files = []
            for i, packet in enumerate(packets[:count]):
                path = Path(tmp) / f"{i}.bin"
                path.write_bytes(packet if len(packet) >= 14 else packet.ljust(14, b"\0"))
                files.append(path)
            start = time.perf_counter()
            for path in files:
                subprocess.run(["bpftool", "prog", "run", "pinned", pin, "data_in", str(path)],
                               capture_output=True, check=False)
            return len(files) / (time.perf_counter() - start)
        finally:
            os.unlink(pin)


PER_SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096); __type(key, u32); __type(value, u64); } sources SEC(".maps");
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || eth->h_proto != __builtin_bswap16(0x0800))
        return XDP_PASS;
    u32 src = ip->saddr;
    u64 one = 1, *n = bpf_map_lookup_elem(&sources, &src);
    if (n) {
        __sync_fetch_and_add(n, 1);
        return XDP_PASS;
    }
    return bpf_map_update_elem(&sources, &src, &one, BPF_NOEXIST) ? XDP_DROP : XDP_PASS;
}
LICENSE("GPL");
"""


def per_source_capture(path: str, count: int, sources: int = 3000) -> None:
    """``count`` IPv4/UDP packets from ``sources`` addresses, in random order."""
    import random
    import struct

    rng = random.Random(5)
    writer = PcapWriter(path, LinkType.EN10MB, nanosecond=True)
    frames = [bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00"
              + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, address.to_bytes(4, "big"),
                            bytes([10, 0, 0, 1])) + bytes(8)
              for address in range(0x0A01_0000, 0x0A01_0000 + sources)]
    for i in range(count):
        writer.write(frames[rng.randrange(sources)], i * 1000)
    writer.close()


def native_rate(spec: pybpf.CollectionSpec, capture: str, count: int, runs: int = 3) -> float:
    """Packets per second of the vm engine's native loop over a pcap file (counts only;
    the best of ``runs``, each on a freshly loaded collection: the machine is shared).
    The program is compiled before the clock starts: a collection loaded again in the same
    process has new map ids, which its machine code embeds, so it is compiled anew (a
    ``pybpf replay`` process finds it in the disk cache instead)."""
    best = 0.0
    for _ in range(runs):
        with pybpf.load(spec, engine="vm") as coll, open_capture(capture) as packets:
            assert coll.programs["prog"].run_packets([]) is not None, "the JIT compiles the program"
            start = time.perf_counter()
            summary = replay_summary(coll.programs["prog"], packets, capture)
            assert summary is not None and summary.packets == count
            best = max(best, count / (time.perf_counter() - start))
    return best


def command_seconds(source: str, capture: str) -> float:
    """Wall time of the whole ``pybpf replay`` command (the best of three, after one
    warm-up run). Python may write bytecode, as it has for an installed package (without
    it every module is compiled from source at each start: ~0.13 s)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.NamedTemporaryFile("w", suffix=".c") as program:
        program.write(source)
        program.flush()
        command = [sys.executable, "-m", "pybpf", "replay", program.name, "-r", capture, "--engine", "vm"]
        subprocess.run(command, check=True, capture_output=True, env=environment)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=environment)
            times.append(time.perf_counter() - start)
        return min(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    packets = generated_packets(11, count)
    with tempfile.TemporaryDirectory() as tmp:
        capture = str(Path(tmp) / "replay.pcap")
        writer = PcapWriter(capture, LinkType.EN10MB, nanosecond=True)
        for i, packet in enumerate(packets):
            writer.write(packet, i * 1000)
        writer.close()
        for name in ("xdp_parser", "socket_len"):
            spec = pybpf.read(PROGRAMS[name], name="bench")
            print(f"{name} over {count} generated packets")
            vm = rate("vm", spec, packets)
            print(f"  vm engine, replay()          {vm:12,.0f} packets/s")
            print(f"  vm engine, native loop       {native_rate(spec, capture, count):12,.0f} packets/s")
            print(f"  pybpf replay --engine vm     {command_seconds(PROGRAMS[name], capture):12.2f} s (whole command)")
            if os.geteuid() == 0 and name == "xdp_parser":
                kernel = rate("kernel", spec, packets)
                print(f"  kernel engine, replay()      {kernel:12,.0f} packets/s  (BPF_PROG_TEST_RUN per packet)")
                tool = bpftool_rate(spec, packets)
                if tool is not None:
                    print(f"  bpftool prog run per packet  {tool:12,.0f} packets/s  "
                          f"(kernel engine {kernel / tool:.0f}x, vm engine {vm / tool:.1f}x)")
        sources = str(Path(tmp) / "sources.pcap")
        per_source_capture(sources, count)
        spec = pybpf.read(PER_SOURCE, name="bench")
        print(f"xdp_per_source over {count} packets from 3000 addresses")
        native = native_rate(spec, sources, count)
        print(f"  vm engine, native loop       {native:12,.0f} packets/s  (native hash tables)")
        import pybpf.vm.jit.lookups as lookups

        fewer = min(count, 100_000)         # (the callbacks' rate on fewer packets: ~10 k packets/s)
        per_source_capture(str(Path(tmp) / "fewer.pcap"), fewer)
        tables, lookups.native_hash = lookups.native_hash, lambda target: None
        try:
            callbacks = native_rate(spec, str(Path(tmp) / "fewer.pcap"), fewer, runs=1)
        finally:
            lookups.native_hash = tables
        print(f"  vm engine, native loop       {callbacks:12,.0f} packets/s  (misses and updates through Python, "
              f"{fewer} packets: {native / callbacks:.0f}x slower)")
        print(f"  pybpf replay --engine vm     {command_seconds(PER_SOURCE, sources):12.2f} s (whole command)")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
