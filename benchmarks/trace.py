"""pybpf trace beside bpftrace, in one run, best of N runs each:

- start to exit of ``BEGIN { exit(); }``, and the peak RSS of that run;
- start to the first map output of a one-tracepoint count (``sys_enter_getppid``, which a
  helper process calls every millisecond; the program exits on the first event);
- events per second a ``@[comm] = count()`` program absorbs: a process calls getppid() as
  fast as it can for a fixed count while the program is attached; the rate is that count
  over the loop's time (tracing overhead shows as a lower rate).

pybpf's bytecode is compiled first (as ``pip install`` does), so start-up is measured as an
installed pybpf starts, not with every module recompiled from source.

    sudo PYTHONPATH=src python benchmarks/trace.py [--runs 5] [--calls 2000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from pybpf.termination import run_interruptible

BEGIN_EXIT = "BEGIN { exit(); }"
FIRST_EVENT = "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); exit(); }"
COUNT = "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }"
TICKER = "import os, time\nwhile True:\n    os.getppid(); time.sleep(0.001)\n"
LOOP = ("import os, sys, time\nn = int(sys.argv[1]); t = time.perf_counter()\nfor _ in range(n): os.getppid()\n"
        "print(n / (time.perf_counter() - t))\n")


def measure(command: list[str]) -> tuple[float, int]:
    """Seconds from start to exit, and peak RSS in KB, of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss


def events_per_second(command: list[str], calls: int) -> float:
    """The getppid() rate of a loop while ``command`` (a counting program) is attached."""
    env = dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    tracer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while "__BPFTRACE_NOTIFY_PROBES_ATTACHED" not in tracer.stderr.readline():
            if tracer.poll() is not None:
                raise SystemExit(f"{command[0]} failed to attach")
        loop = subprocess.run([sys.executable, "-c", LOOP, str(calls)], capture_output=True, text=True, check=True)
        return float(loop.stdout)
    finally:
        tracer.send_signal(2)
        tracer.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2_000_000)
    args = parser.parse_args()
    # pip compiles an installed package's bytecode; a source checkout run with
    # PYTHONDONTWRITEBYTECODE (as CI shells set it) would recompile ~60 modules per start
    import compileall

    import pybpf
    compileall.compile_dir(os.path.dirname(pybpf.__file__), quiet=1)
    tools = {"pybpf trace": [sys.executable, "-m", "pybpf", "trace"]}
    if shutil.which("bpftrace"):
        tools["bpftrace"] = ["bpftrace"]
    ticker = subprocess.Popen([sys.executable, "-c", TICKER])
    results: dict[str, dict[str, float]] = {}
    try:
        for name, base in tools.items():
            begin = [measure([*base, "-e", BEGIN_EXIT]) for _ in range(args.runs)]
            first = [measure([*base, "-e", FIRST_EVENT])[0] for _ in range(args.runs)]
            rates = [events_per_second([*base, "-e", COUNT], args.calls) for _ in range(max(1, args.runs // 2))]
            results[name] = {"begin": min(b[0] for b in begin), "rss": max(b[1] for b in begin) / 1024,
                             "first": min(first), "rate": max(rates)}
            r = results[name]
            print(f"{name:<12} BEGIN{{exit();}} {r['begin']:.3f} s  peak RSS {r['rss']:.1f} MB  "
                  f"first map output {r['first']:.3f} s  {r['rate'] / 1e6:.2f} M events/s absorbed")
    finally:
        ticker.kill()
        ticker.wait()
    if len(results) == 2:
        ours, theirs = results["pybpf trace"], results["bpftrace"]
        print(f"ratio pybpf/bpftrace: BEGIN {ours['begin'] / theirs['begin']:.2f}x, RSS {ours['rss'] / theirs['rss']:.2f}x, "
              f"first output {ours['first'] / theirs['first']:.2f}x, events/s {ours['rate'] / theirs['rate']:.2f}x")
    baseline = float(subprocess.run([sys.executable, "-c", LOOP, str(args.calls)], capture_output=True, text=True,
                                    check=True).stdout)
    print(f"untraced loop: {baseline / 1e6:.2f} M calls/s")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
