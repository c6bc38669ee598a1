"""Map throughput from Python: pybpf's kernel maps against naive raw ctypes calls.

Run as root: ``python benchmarks/maps.py [N]``. Prints operations per second for
lookups and updates (one element per call, and whole-map batches) and the ratio of
pybpf to the raw ctypes version measured in the same run. The raw version is what a
script would write by hand: a fresh attr and buffers per call, ``libc.syscall``.
BCC's table API would be the other anchor, but it needs ``python3-bpfcc`` (BCC built
against the running kernel's headers), which is not importable here; the script says
so and skips it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable

from pybpf.kernel import attrs
from pybpf.kernel.maps import create_map
from pybpf.object import MapSpec, MapType
from pybpf.termination import run_interruptible

_NR = {"x86_64": 321, "aarch64": 280}[platform.machine()]
_libc = ctypes.CDLL(None, use_errno=True)
_LOOKUP, _UPDATE = 1, 2


def raw_update(fd: int, key: int, value: int) -> None:
    """BPF_MAP_UPDATE_ELEM as a hand-written ctypes call."""
    k, v = ctypes.c_uint32(key), ctypes.c_uint64(value)
    attr = attrs.MapElemAttr(map_fd=fd, key=ctypes.addressof(k), value=ctypes.addressof(v))
    if _libc.syscall(_NR, _UPDATE, ctypes.byref(attr), ctypes.sizeof(attr)) < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def raw_lookup(fd: int, key: int) -> int:
    """BPF_MAP_LOOKUP_ELEM as a hand-written ctypes call."""
    k, v = ctypes.c_uint32(key), ctypes.c_uint64()
    attr = attrs.MapElemAttr(map_fd=fd, key=ctypes.addressof(k), value=ctypes.addressof(v))
    if _libc.syscall(_NR, _LOOKUP, ctypes.byref(attr), ctypes.sizeof(attr)) < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return v.value


def rate(operations: int, body: Callable[[], None]) -> float:
    """Operations per second of ``body`` (which performs ``operations`` of them)."""
    start = time.perf_counter()
    body()
    return operations / (time.perf_counter() - start)


def main(n: int) -> None:
    """Measure and print."""
    spec = MapSpec("bench", MapType.HASH, 4, 8, n)
    keys = range(n)
    with create_map(spec) as m:
        fd = m.fd
        results = {
            "update (raw ctypes)": rate(n, lambda: [raw_update(fd, k, k) for k in keys]),
            "update (pybpf m[k] = v)": rate(n, lambda: [m.__setitem__(k, k) for k in keys]),
            "lookup (raw ctypes)": rate(n, lambda: [raw_lookup(fd, k) for k in keys]),
            "lookup (pybpf m[k])": rate(n, lambda: [m[k] for k in keys]),
            "update (pybpf update_batch)": rate(n, lambda: m.update_batch((k, k) for k in keys)),
            "lookup (pybpf lookup_batch)": rate(n, lambda: m.lookup_batch(chunk=1024)),
            "lookup (pybpf items())": rate(n, lambda: list(m.items())),
        }
    width = max(map(len, results))
    print(f"hash map, u32 keys, u64 values, {n} entries, ops/s:")
    for name, ops in results.items():
        print(f"  {name:<{width}}  {ops:>12,.0f}")
    print("ratios (pybpf / raw ctypes, > 1 is faster):")
    print(f"  update single  {results['update (pybpf m[k] = v)'] / results['update (raw ctypes)']:.2f}")
    print(f"  lookup single  {results['lookup (pybpf m[k])'] / results['lookup (raw ctypes)']:.2f}")
    print(f"  update batch   {results['update (pybpf update_batch)'] / results['update (raw ctypes)']:.2f}")
    print(f"  lookup batch   {results['lookup (pybpf lookup_batch)'] / results['lookup (raw ctypes)']:.2f}")
    if importlib.util.find_spec("bcc") is None:
        print("BCC: not importable here (python3-bpfcc), no comparison")
    else:
        print("BCC: importable, but its table API needs a compiled program; not measured")


if __name__ == "__main__":
    sys.exit(run_interruptible(lambda: main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)))
