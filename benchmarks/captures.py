"""Captures for ``benchmarks/filter_speed.py --capture``, beside its generated one.

``python benchmarks/captures.py tests DIR OUT [--packets N]``: the Ethernet packets of every
classic pcap file in DIR (tcpdump's own test captures: ``git archive HEAD tests`` of
the-tcpdump-group/tcpdump), in file order, repeated until N packets (1,000,000 by default),
with timestamps a microsecond apart. Many protocols, many odd packets.

``sudo python benchmarks/captures.py lo OUT [--packets N]``: N packets (300,000 by default)
captured on the loopback interface with ``pybpf filter -i lo -c N -w OUT`` while this
process sends TCP echo traffic (1–1400-byte writes) and UDP datagrams to port 5353 over
loopback: what a capture of local services looks like (loopback's link type is
Ethernet, with large segments).
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}


def ethernet_packets(path: str) -> list[tuple[int, bytes]]:
    """(original length, captured bytes) of each record of a classic pcap file of link type
    Ethernet; none for other files."""
    with open(path, "rb") as f:
        data = f.read()
    order = MAGICS.get(data[:4])
    if order is None or len(data) < 24 or struct.unpack_from(order + "I", data, 20)[0] & 0xFFFF != 1:
        return []
    packets, position = [], 24
    while position + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack_from(order + "IIII", data, position)
        body = data[position + 16:position + 16 + caplen]
        if len(body) < caplen or caplen > 262144:
            break
        packets.append((max(wirelen, caplen), body))
        position += 16 + caplen
    return packets


def tests_capture(directory: str, out: str, packets: int) -> int:
    found = [p for path in sorted(glob.glob(os.path.join(directory, "*.pcap"))) for p in ethernet_packets(path)]
    if not found:
        sys.exit(f"{directory}: no Ethernet pcap files")
    with open(out, "wb") as f:
        f.write(PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        chunk: list[bytes] = []
        for i in range(packets):
            wirelen, body = found[i % len(found)]
            chunk += (RECORD.pack(1_700_000_000 + i // 1_000_000, i % 1_000_000, len(body), wirelen), body)
            if len(chunk) >= 100_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    return len(found)


def _traffic(stop: threading.Event) -> None:
    """TCP echo and UDP datagrams over loopback until ``stop``."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    rng = random.Random(7)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop.is_set():
            size = rng.randrange(1, 1400)
            client.sendall(b"x" * size)
            got = 0
            while got < size:
                got += len(client.recv(65536))
            udp.sendto(b"q" * rng.randrange(20, 500), ("127.0.0.1", 5353))
    udp.close()
    server.close()


def lo_capture(out: str, packets: int) -> None:
    stop = threading.Event()
    capture = subprocess.Popen([sys.executable, "-m", "pybpf", "filter", "-i", "lo", "-c", str(packets), "-w", out, ""])
    time.sleep(1.0)                     # the socket is open and listening
    sender = threading.Thread(target=_traffic, args=(stop,), daemon=True)
    sender.start()
    try:
        if capture.wait(timeout=600) != 0:
            sys.exit(f"pybpf filter -i lo exited with {capture.returncode}")
    finally:
        stop.set()
        sender.join(timeout=5)
        if capture.poll() is None:
            capture.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description="captures for benchmarks/filter_speed.py --capture")
    kinds = parser.add_subparsers(dest="kind", required=True)
    tests = kinds.add_parser("tests", help="tcpdump's test captures (Ethernet) repeated")
    tests.add_argument("directory")
    tests.add_argument("out")
    tests.add_argument("--packets", type=int, default=1_000_000)
    lo = kinds.add_parser("lo", help="a capture of loopback traffic (root)")
    lo.add_argument("out")
    lo.add_argument("--packets", type=int, default=300_000)
    args = parser.parse_args()
    if args.kind == "tests":
        distinct = tests_capture(args.directory, args.out, args.packets)
        print(f"{args.out}: {args.packets:,} packets ({distinct:,} distinct), {os.path.getsize(args.out) / 1e6:.0f} MB")
    else:
        lo_capture(args.out, args.packets)
        print(f"{args.out}: {os.path.getsize(args.out) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
