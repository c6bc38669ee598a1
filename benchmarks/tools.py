"""Overhead of the busiest tools on a syscall-heavy workload, beside bpftrace's
equivalent one-liners in the same run; and CTF write throughput.

Run: ``sudo python benchmarks/tools.py [--runs N] [--syscalls N]``. The workload is
``dd if=/dev/zero of=/dev/null bs=1 count=N`` (two syscalls per byte). Each contender is
started, given time to attach (its first output line, or 3 s for bpftrace), then the
workload runs; the figure is the workload's median wall time over N runs divided by its
median time with nothing attached (the slowdown), measured in the same run:

- ``pybpf tool syscount`` vs ``bpftrace -e 'tracepoint:raw_syscalls:sys_exit { @[args->id] = count(); }'``
- ``pybpf tool execsnoop`` vs ``bpftrace -e 'tracepoint:syscalls:sys_enter_execve,... { printf(...); join(args->argv) }
  tracepoint:syscalls:sys_exit_execve,... { printf(ret) }'`` (the same hooks: enabling a
  syscall tracepoint puts every syscall of every task on the traced path)
- ``pybpf tool profile -F 99`` vs ``bpftrace -e 'profile:hz:99 { @[kstack, ustack, comm] = count(); }'``

CTF: events per second of :class:`pybpf.output.CtfWriter` writing 200,000 events of
four fields (two integers, two strings) into a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pybpf.termination import run_interruptible

SRC = str(Path(__file__).resolve().parents[1] / "src")

CONTENDERS = {
    "syscount": (["tool", "syscount"],
                 "tracepoint:raw_syscalls:sys_exit { @[args->id] = count(); }"),
    "execsnoop": (["tool", "execsnoop"],
                  'tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat '
                  '{ printf("%d %s ", pid, comm); join(args->argv); } '
                  'tracepoint:syscalls:sys_exit_execve,tracepoint:syscalls:sys_exit_execveat { printf("%d\\n", args->ret); }'),
    "profile 99 Hz": (["tool", "profile", "-F", "99"],
                      "profile:hz:99 { @[kstack, ustack, comm] = count(); }"),
}


def workload(count: int) -> float:
    start = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={count}"], check=True,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def timed_under(command: list[str], count: int, runs: int, ready_line: bool) -> float:
    """Median workload time while ``command`` runs."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": SRC}, start_new_session=True)
    try:
        if ready_line:
            process.stdout.readline()
        time.sleep(3)
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(command)} exited with status {process.returncode} before the workload ran")
        return statistics.median(workload(count) for _ in range(runs))
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def ctf_throughput(events: int = 200_000) -> float:
    sys.path.insert(0, SRC)
    from pybpf.output import CtfWriter

    with tempfile.TemporaryDirectory(prefix="pybpf-output-bench-") as directory:
        start = time.perf_counter()
        with CtfWriter(directory) as trace:
            trace.event_class("exec", {"pid": "u32", "ts_delta": "u64", "comm": "string", "path": "string"})
            for n in range(events):
                trace.write("exec", n, {"pid": n & 0xFFFF, "ts_delta": n * 3, "comm": "bash", "path": "/usr/bin/ls"})
        return events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--syscalls", type=int, default=1_000_000, help="bytes dd copies (2 syscalls each)")
    args = parser.parse_args()
    baseline = statistics.median(workload(args.syscalls) for _ in range(args.runs))
    print(f"workload: dd bs=1 count={args.syscalls}, {baseline:.3f} s with nothing attached (median of {args.runs})")
    print(f"{'tool':<16} {'pybpf slowdown':>15} {'bpftrace slowdown':>18} {'ratio':>7}")
    bpftrace = shutil.which("bpftrace")
    for name, (pybpf_args, one_liner) in CONTENDERS.items():
        ours = timed_under([sys.executable, "-m", "pybpf.cli", *pybpf_args], args.syscalls, args.runs,
                           ready_line=name != "profile 99 Hz")
        theirs = timed_under([bpftrace, "-e", one_liner], args.syscalls, args.runs, ready_line=True) if bpftrace else None
        shown = f"{theirs / baseline:>17.3f}x {ours / theirs:>6.2f}" if theirs else f"{'(no bpftrace)':>18}"
        print(f"{name:<16} {ours / baseline:>14.3f}x {shown}")
    print(f"CTF writer: {ctf_throughput():,.0f} events/s")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
