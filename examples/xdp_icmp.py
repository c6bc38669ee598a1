"""Count and drop ICMP with XDP, on a veth pair between two network namespaces this
example makes (and removes).

    sudo python examples/xdp_icmp.py [--duration SECONDS]

The XDP program (generic mode, on the veth end in namespace A) parses Ethernet and IPv4
with the bounds checks the verifier demands, drops ICMP and counts it; everything else
passes and is counted too. Every second the example pings A from namespace B once (an
ICMP echo from a raw socket) and sends one UDP datagram, then prints the counters.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pybpf

SOURCE = r"""
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, u32); __type(value, u64); } counts SEC(".maps");

SEC("xdp")
int drop_icmp(struct xdp_md *ctx)
{
    unsigned char *data = (unsigned char *)(long)ctx->data, *end = (unsigned char *)(long)ctx->data_end;
    u32 icmp = 0;
    if (data + 14 + 20 <= end && data[12] == 0x08 && data[13] == 0x00 && data[14 + 9] == 1)
        icmp = 1;
    u64 *count = bpf_map_lookup_elem(&counts, &icmp);
    if (count)
        __sync_fetch_and_add(count, 1);
    return icmp ? XDP_DROP : XDP_PASS;
}
LICENSE("GPL");
"""
SENDER = r"""
import socket, struct
def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff
header = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"pybpf"
echo = header[:2] + struct.pack("!H", checksum(header + b"\0")) + header[4:]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
raw.sendto(echo, ("10.78.0.1", 0))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", ("10.78.0.1", 9))
"""
CLONE_NEWNET = 0x40000000


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def namespaces() -> Iterator[tuple[str, str]]:
    a, b = f"pybpf-xdp-a-{os.getpid()}", f"pybpf-xdp-b-{os.getpid()}"
    ip("netns", "add", a)
    try:
        ip("netns", "add", b)
        try:
            ip("link", "add", "pbxdpa", "type", "veth", "peer", "name", "pbxdpb")
            ip("link", "set", "pbxdpa", "netns", a)
            ip("link", "set", "pbxdpb", "netns", b)
            for ns, dev, address in ((a, "pbxdpa", "10.78.0.1/24"), (b, "pbxdpb", "10.78.0.2/24")):
                ip("-n", ns, "addr", "add", address, "dev", dev)
                ip("-n", ns, "link", "set", dev, "up")
                ip("-n", ns, "link", "set", "lo", "up")
            yield a, b
        finally:
            ip("netns", "del", b)
    finally:
        ip("netns", "del", a)


@contextlib.contextmanager
def inside(netns: str) -> Iterator[None]:
    """This thread in ``netns`` for the block (so the XDP attach sees its interfaces)."""
    libc = ctypes.CDLL(None, use_errno=True)
    home, target = os.open("/proc/self/ns/net", os.O_RDONLY), os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), f"setns into {netns}")
        yield
    finally:
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    spec = pybpf.read(SOURCE, name="xdp_icmp")
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with namespaces() as (a, b), pybpf.load(spec, engine="kernel") as coll:
        with inside(a):
            link = coll.programs["drop_icmp"].attach("xdp:pbxdpa:generic")
        with link:
            counts = coll.maps["counts"]
            print("ICMP to 10.78.0.1 is dropped by XDP; other traffic passes.", flush=True)
            try:
                while deadline is None or time.monotonic() < deadline:
                    subprocess.run(["ip", "netns", "exec", b, sys.executable, "-c", SENDER], check=True)
                    time.sleep(1)
                    print(f"dropped ICMP: {counts[1]}   passed other: {counts[0]}", flush=True)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
