"""Events per second delivered to Python, and the time from attach() to the first event.

Run as root: ``python benchmarks/events.py [N]``. A C program (compiled here with the
clang in the ziglang wheel, loaded with pybpf's ELF loader) sends one 16-byte record per
``getppid()`` made by a child process, through a BPF ring buffer and through a perf
buffer; the parent drains them with pybpf's readers. Prints events/s for each and
their ratio (the perf buffer is what BCC's ``open_perf_buffer`` uses; BCC itself needs
kernel headers and is not importable here, so the script says so instead of timing it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time

from pybpf.engine import load
from pybpf.kernel.attach import attach
from pybpf.kernel.perf_event import online_cpus
from pybpf.kernel.perfbuf import PerfBuffer
from pybpf.kernel.ringbuf import EventPoller, RingBuffer
from pybpf.object.elf import load_object
from pybpf.termination import run_interruptible

SOURCE = r"""
#define SEC(n) __attribute__((section(n), used))
typedef unsigned int u32; typedef unsigned long long u64;
static u64 (*get_current_pid_tgid)(void) = (void *) 14;
static u64 (*ktime_get_ns)(void) = (void *) 5;
static long (*perf_event_output)(void *ctx, void *map, u64 flags, void *data, u64 size) = (void *) 25;
static long (*ringbuf_output)(void *rb, void *data, u64 size, u64 flags) = (void *) 130;
struct bpf_map_def { u32 type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") ring = { .type = 27, .max_entries = 1 << 22 };
struct bpf_map_def SEC("maps") perf = { .type = 4, .key_size = 4, .value_size = 4, .max_entries = NCPU };
volatile const u32 target = 0;
struct event { u64 time; u64 pid_tgid; };
SEC("tracepoint/syscalls/sys_enter_getppid") int to_ring(void *ctx) {
    struct event e = { ktime_get_ns(), get_current_pid_tgid() };
    if ((e.pid_tgid >> 32) != target) return 0;
    ringbuf_output(&ring, &e, sizeof e, 0);
    return 0;
}
SEC("tracepoint/syscalls/sys_enter_getppid") int to_perf(void *ctx) {
    struct event e = { ktime_get_ns(), get_current_pid_tgid() };
    if ((e.pid_tgid >> 32) != target) return 0;
    perf_event_output(ctx, &perf, 0xffffffffULL, &e, sizeof e);
    return 0;
}
char _license[] SEC("license") = "GPL";
"""

CHILD = "import os, sys; sys.stdin.readline(); n = int(sys.argv[1])\nfor _ in range(n): os.getppid()\n"


def compile_object() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "events.c")
        with open(src, "w") as f:
            f.write(SOURCE.replace("NCPU", str(max(online_cpus()) + 1)))
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "bpfel-freestanding-none", "-O2",
                        "-c", src, "-o", os.path.join(tmp, "events.o")], check=True)
        with open(os.path.join(tmp, "events.o"), "rb") as f:
            return f.read()


def run(program: str, events: int, obj: bytes, batch: bool = False) -> tuple[float, float]:
    """(events per second, seconds from attach() to the first event) for one program;
    ``batch`` decodes records into NumPy arrays instead of one by one."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(events)], stdin=subprocess.PIPE, text=True)
    spec = load_object(obj, name="events")
    rodata = next(m for m in spec.maps.values() if m.name.endswith(".rodata"))
    spec.maps[rodata.name] = rodata.copy(contents=child.pid.to_bytes(4, "little") + rodata.contents[4:])
    received = 0
    first = None

    def count(*_: object) -> None:
        nonlocal received
        received += 1

    with load(spec, engine="kernel") as coll, EventPoller() as poller:
        if batch:
            import numpy

            dtype = numpy.dtype([("time", "<u8"), ("pid_tgid", "<u8")])
            if program == "to_ring":
                reader = RingBuffer(coll.maps["ring"].fd, coll.maps["ring"].spec.max_entries)
                fds = [reader.fileno()]
            else:
                reader = PerfBuffer(coll.maps["perf"], pages=64, wakeup_events=64)
                fds = reader.fds()

            def drain_batch():
                nonlocal received
                received += len(reader.read_array(dtype))
                return iter(())
            for fd in fds:
                poller.add(fd, drain_batch, count)
        elif program == "to_ring":
            reader = RingBuffer(coll.maps["ring"].fd, coll.maps["ring"].spec.max_entries)
            poller.add_ring_buffer(reader, count)
        else:
            reader = PerfBuffer(coll.maps["perf"], pages=64)
            reader.add_to(poller, count)
        try:
            start = time.perf_counter()
            with attach(coll.programs[program]):
                child.stdin.write("go\n")
                child.stdin.flush()
                while received < events:
                    before = received
                    poller.poll(timeout=1.0)
                    if received > before and first is None:
                        first = time.perf_counter() - start
                    if child.poll() is not None and not poller.drain() and received < events:
                        break
                elapsed = time.perf_counter() - start
        finally:
            reader.close()
            child.wait()
    lost = getattr(reader, "lost", 0)
    if received + lost < events:
        print(f"  warning: {program} saw {received} of {events} events ({lost} reported lost)")
    return received / elapsed, first or float("nan")


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: attaching tracepoints needs CAP_BPF and CAP_PERFMON")
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    obj = compile_object()
    ring_rate, ring_first = run("to_ring", events, obj)
    try:
        batch_rate, _ = run("to_ring", events, obj, batch=True)
        perf_batch_rate, _ = run("to_perf", events, obj, batch=True)
    except ImportError:
        batch_rate = perf_batch_rate = None
    perf_rate, perf_first = run("to_perf", events, obj)
    print(f"{events} events from a child's getppid() tracepoint, 16-byte records")
    print(f"  ring buffer:  {ring_rate:12,.0f} events/s   first event {ring_first * 1e3:7.2f} ms after attach()")
    print(f"  perf buffer:  {perf_rate:12,.0f} events/s   first event {perf_first * 1e3:7.2f} ms after attach()")
    if batch_rate is not None:
        print(f"  ring buffer, NumPy batches: {batch_rate:12,.0f} events/s")
        print(f"  perf buffer, NumPy batches: {perf_batch_rate:12,.0f} events/s")
    print(f"  ratio ring/perf: {ring_rate / perf_rate:.2f}")
    if importlib.util.find_spec("bcc") is None:
        print("  BCC: not importable here (python3-bpfcc needs the running kernel's headers): not timed")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
