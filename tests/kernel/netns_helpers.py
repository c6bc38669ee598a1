"""Network namespaces and cgroups for kernel tests: made fresh, always removed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def inside(netns: str) -> Iterator[None]:
    """Run this thread inside named network namespace ``netns``, then come back."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {netns}")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")
    finally:
        os.close(target)
        os.close(home)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=True)


@contextlib.contextmanager
def veth_between_namespaces(tag: str) -> Iterator[tuple[str, str, str, str]]:
    """Two new namespaces joined by a veth pair with 10.77.0.1/24 (ifname ``A``, in the
    first) and 10.77.0.2/24 (``B``, in the second); yields (ns_a, ns_b, ifname_a, ifname_b).
    The pair is created with each end already in its namespace (one ``ip link add``): made
    here and then moved, an end was now and then not yet visible in its new namespace
    when it was configured there."""
    ns_a, ns_b = f"pybpf-{tag}-a-{os.getpid()}", f"pybpf-{tag}-b-{os.getpid()}"
    if_a, if_b = f"pb{tag[:4]}a", f"pb{tag[:4]}b"
    _ip("netns", "add", ns_a)
    try:
        _ip("netns", "add", ns_b)
        try:
            _ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
            for ns, ifname, address in ((ns_a, if_a, "10.77.0.1"), (ns_b, if_b, "10.77.0.2")):
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", ifname)
                _ip("-n", ns, "link", "set", ifname, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
            yield ns_a, ns_b, if_a, if_b
        finally:
            _ip("netns", "del", ns_b)
    finally:
        _ip("netns", "del", ns_a)


def run_in(netns: str, code: str) -> subprocess.CompletedProcess:
    """Run Python ``code`` in namespace ``netns`` (a child process, so this one stays put)."""
    return subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=30, check=True)


def send_udp(to: str, count: int, port: int = 9999) -> str:
    """Python code that sends ``count`` UDP datagrams to ``to``."""
    return (f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for i in range({count}): s.sendto(b'x' * 32, ('{to}', {port}))\n")


def cgroup2_root() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted, or None."""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2":
            return Path(fields[1])
    return None


@contextlib.contextmanager
def new_cgroup(tag: str) -> Iterator[Path]:
    """A fresh cgroup v2 directory, removed afterwards."""
    root = cgroup2_root()
    assert root is not None
    path = root / f"pybpf-{tag}-{os.getpid()}"
    path.mkdir()
    try:
        yield path
    finally:
        path.rmdir()


def run_in_cgroup(cgroup: Path, code: str) -> None:
    """Run Python ``code`` in a child process that first joins ``cgroup``."""
    subprocess.run(["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "{sys.executable}" -c "$0"', code],
                   check=True, timeout=30, capture_output=True)
