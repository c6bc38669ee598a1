"""BCC's API on pybpf beside pybpf's own API, for the same programs.

Run: ``sudo python benchmarks/bcc.py [--events N] [--runs N]``.

- *start to first event*: a script started as a new process (``python -m pybpf.bcc`` with
  ``from bcc import BPF``, or the same program on pybpf's API) until it prints its first
  event (a getppid() the benchmark keeps calling); the compile cache is warm after the
  first run, the median of the rest is shown.
- *events per second* through ``perf_buffer_poll`` and ``ring_buffer_poll`` (a tracepoint
  on sys_enter_getppid sends one 16-byte record per call; batches of calls are drained by
  the poll loop and callback of each API).

BCC itself cannot run here (it needs kernel headers and a system LLVM); the benchmark says
so instead of timing it. Ratios are pybpf.bcc's time (or rate) over pybpf's, same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pybpf.termination import run_interruptible

BCC_PROGRAM = r"""
struct rec_t { u32 pid; u32 n; u64 ts; };
BPF_PERF_OUTPUT(perf);
BPF_RINGBUF_OUTPUT(ring, 256);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    struct rec_t r = {bpf_get_current_pid_tgid() >> 32, 0, bpf_ktime_get_ns()};
    if (r.pid != TARGET) return 0;
    if (MODE == 0) perf.perf_submit(args, &r, sizeof(r)); else ring.ringbuf_output(&r, sizeof(r), 0);
    return 0;
}
"""
PYBPF_PROGRAM = r"""
#include <pybpf/bpf.h>
struct rec_t { u32 pid; u32 n; u64 ts; };
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 128); } perf SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 256 * 4096); } ring SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx) {
    struct rec_t r = {bpf_get_current_pid_tgid() >> 32, 0, bpf_ktime_get_ns()};
    if (r.pid != TARGET) return 0;
    if (MODE == 0) bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &r, sizeof(r));
    else bpf_ringbuf_output(&ring, &r, sizeof(r), 0);
    return 0;
}
LICENSE("GPL");
"""

BCC_SCRIPT = f"""
import os, sys
from bcc import BPF
b = BPF(text={BCC_PROGRAM!r}.replace("TARGET", sys.argv[1]).replace("MODE", "0"))
b["perf"].open_perf_buffer(lambda cpu, data, size: (print("event", flush=True), os._exit(0)))
while True:
    b.perf_buffer_poll()
"""
PYBPF_SCRIPT = f"""
import os, sys
from pybpf.engine import load
from pybpf.kernel.attach import attach
from pybpf.kernel.perfbuf import PerfBuffer
from pybpf.kernel.ringbuf import EventPoller
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c
source = {PYBPF_PROGRAM!r}.replace("TARGET", sys.argv[1]).replace("MODE", "0")
loaded = load(load_object(compile_c(source)), engine="kernel")
link = attach(loaded.programs["on_getppid"])
perf = PerfBuffer(loaded.maps["perf"])
poller = EventPoller()
perf.add_to(poller, lambda cpu, data: (print("event", flush=True), os._exit(0)))
while True:
    poller.poll(1.0)
"""


def first_event(script: str, bcc: bool) -> float:
    """Seconds from starting ``script`` to its first printed event."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    command = [sys.executable, *(["-m", "pybpf.bcc"] if bcc else []), f.name, str(os.getpid())]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    os.set_blocking(process.stdout.fileno(), False)
    try:
        while True:
            os.getppid()
            line = process.stdout.readline()
            if line.startswith("event"):
                return time.perf_counter() - start
            if process.poll() is not None:
                raise SystemExit(f"{command} exited with {process.returncode}")
            time.sleep(0.001)
    finally:
        process.kill()
        process.wait()
        os.unlink(f.name)


def rate_bcc(mode: int, events: int) -> float:
    from pybpf.bcc import BPF

    b = BPF(text=BCC_PROGRAM.replace("TARGET", str(os.getpid())).replace("MODE", str(mode)))
    seen = [0]

    def count(*_: object) -> None:
        seen[0] += 1

    if mode == 0:
        b["perf"].open_perf_buffer(count, page_cnt=64)
        poll = b.perf_buffer_poll
    else:
        b["ring"].open_ring_buffer(count)
        poll = b.ring_buffer_poll
    elapsed = _drive(lambda: poll(timeout=0), seen, events)
    b.cleanup()
    return seen[0] / elapsed


def rate_pybpf(mode: int, events: int) -> float:
    from pybpf.engine import load
    from pybpf.kernel.attach import attach
    from pybpf.kernel.perfbuf import PerfBuffer
    from pybpf.kernel.ringbuf import EventPoller, RingBuffer
    from pybpf.object.elf import load_object
    from pybpf.toolchain import compile_c

    source = PYBPF_PROGRAM.replace("TARGET", str(os.getpid())).replace("MODE", str(mode))
    seen = [0]

    def count(*_: object) -> None:
        seen[0] += 1

    with load(load_object(compile_c(source)), engine="kernel") as loaded, attach(loaded.programs["on_getppid"]), \
            EventPoller() as poller:
        if mode == 0:
            buffer = PerfBuffer(loaded.maps["perf"], pages=64)
            buffer.add_to(poller, count)
        else:
            buffer = RingBuffer.of(loaded.maps["ring"])
            poller.add_ring_buffer(buffer, count)
        elapsed = _drive(lambda: poller.poll(0), seen, events)
        buffer.close()
    return seen[0] / elapsed


def _drive(poll, seen: list[int], events: int, batch: int = 2000) -> float:
    """Make ``events`` events in batches, each drained by ``poll``; the seconds it took."""
    start = time.perf_counter()
    made = 0
    while made < events:
        for _ in range(batch):
            os.getppid()
        made += batch
        while seen[0] < made and poll() >= 0 and time.perf_counter() - start < 60:
            if seen[0] >= made:
                break
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = importlib.util.find_spec("bcc")  # (this file is bcc.py too: not that one)
    if spec is not None and spec.origin and Path(spec.origin).resolve() != Path(__file__).resolve():
        print(f"BCC at {spec.origin} is not timed: it needs kernel headers this machine lacks")
    else:
        print("BCC itself cannot run here (no BCC, no kernel headers, no system LLVM): pybpf.bcc vs pybpf only")
    starts = {bcc: [first_event(BCC_SCRIPT if bcc else PYBPF_SCRIPT, bcc) for _ in range(args.runs + 1)][1:]
              for bcc in (True, False)}
    bcc_start, own_start = statistics.median(starts[True]), statistics.median(starts[False])
    print(f"start to first event   pybpf.bcc {bcc_start * 1000:8.0f} ms   pybpf {own_start * 1000:8.0f} ms"
          f"   ratio {bcc_start / own_start:.2f}x")
    for mode, name in ((0, "perf_buffer_poll"), (1, "ring_buffer_poll")):
        bcc_rate = statistics.median(rate_bcc(mode, args.events) for _ in range(args.runs))
        own_rate = statistics.median(rate_pybpf(mode, args.events) for _ in range(args.runs))
        print(f"{name:<22} pybpf.bcc {bcc_rate:10.0f}/s pybpf {own_rate:10.0f}/s   ratio {bcc_rate / own_rate:.2f}x")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
