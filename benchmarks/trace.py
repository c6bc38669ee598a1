"""pybpf trace beside bpftrace, in one run: start to exit of ``BEGIN { exit(); }`` and peak
RSS (wait4's ru_maxrss), best of N runs each.

    sudo PYTHONPATH=src python benchmarks/trace.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

PROGRAM = "BEGIN { exit(); }"


def measure(command: list[str]) -> tuple[float, int]:
    """Seconds from start to exit, and peak RSS in KB, of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tools = {"pybpf trace": [sys.executable, "-m", "pybpf", "trace", "-e", PROGRAM]}
    if shutil.which("bpftrace"):
        tools["bpftrace"] = ["bpftrace", "-e", PROGRAM]
    results = {}
    for name, command in tools.items():
        runs = [measure(command) for _ in range(args.runs)]
        results[name] = (min(r[0] for r in runs), max(r[1] for r in runs))
        print(f"{name:<12} BEGIN{{exit();}} {results[name][0]:.3f} s   peak RSS {results[name][1] / 1024:.1f} MB")
    if len(results) == 2:
        ours, theirs = results["pybpf trace"], results["bpftrace"]
        print(f"ratio pybpf/bpftrace: time {ours[0] / theirs[0]:.2f}x, peak RSS {ours[1] / theirs[1]:.2f}x")


if __name__ == "__main__":
    main()
