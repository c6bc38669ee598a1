"""Packets per second through `pybpf.replay` on the vm and kernel engines, beside
`bpftool prog run` called per packet (what a user does today), for a small XDP parser.

    sudo python benchmarks/replay.py [PACKETS]

The kernel engine and bpftool need root; without it only the vm engine is measured.
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

import pybpf  # noqa: E402
from pybpf.replay import replay_verdicts  # noqa: E402
from pybpf.termination import run_interruptible  # noqa: E402
from test_replay_engines import PROGRAMS, generated_packets  # noqa: E402


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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    packets = generated_packets(11, count)
    spec = pybpf.read(PROGRAMS["xdp_parser"], name="bench")
    print(f"XDP parser over {count} generated packets")
    vm = rate("vm", spec, packets)
    print(f"  vm engine      {vm:12,.0f} packets/s")
    if os.geteuid() == 0:
        kernel = rate("kernel", spec, packets)
        print(f"  kernel engine  {kernel:12,.0f} packets/s  (BPF_PROG_TEST_RUN per packet)")
        tool = bpftool_rate(spec, packets)
        if tool is not None:
            print(f"  bpftool prog run per packet {tool:10,.0f} packets/s  "
                  f"(kernel engine {kernel / tool:.0f}x, vm engine {vm / tool:.1f}x)")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
