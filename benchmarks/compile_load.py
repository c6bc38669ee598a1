"""From C text to a program loaded in the kernel: pybpf beside clang-14 + bpftool, and BCC.

Run: ``sudo python benchmarks/compile_load.py [--runs N]``. The program is a typical
tracing one — a tracepoint that counts per process in a hash map and sends events through
a ring buffer, with ``vmlinux.h`` and a CO-RE read — and each contender goes from its
text to a verified program in the kernel, then unloads it:

- pybpf, in one process: ``compile_c`` (the ziglang clang; *cold* = a source the compile
  cache has not seen, *warm* = a cache hit) + ``load_object`` (CO-RE against the
  running kernel's BTF) + ``load(spec, engine="kernel")``. The first load in a process
  also parses the kernel's BTF for CO-RE; that is shown on its own line.
- pybpf as a command: ``pybpf load prog.c`` in a new process (cold and warm cache), the
  like of the anchor's two commands.
- the anchor: ``clang-14 -target bpf -O2 -g -c`` then ``bpftool prog loadall`` (programs
  pinned under /sys/fs/bpf, removed after each run), both Debian packages.
- BCC's ``BPF(text=...)`` when ``python3-bpfcc`` imports; it needs kernel headers, so
  where it cannot run the reason is printed instead of a time.

Both compilers get the same ``vmlinux.h`` (pybpf's, generated once per kernel before any
timing) and the same ``<pybpf/bpf.h>``. Times are medians of N runs; ratios are to the
anchor, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pybpf.engine import load
from pybpf.object.elf import load_object
from pybpf.termination import run_interruptible
from pybpf.toolchain import compile_c, include_dir, vmlinux_include_dir

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct event { __u32 pid; __u64 count; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat") int on_openat(void *ctx)
{
    struct task_struct *task = (void *)bpf_get_current_task();
    __u32 pid = BPF_CORE_READ(task, tgid);
    __u64 one = 1, *count = bpf_map_lookup_elem(&counts, &pid);
    if (count) __sync_fetch_and_add(count, 1);
    else bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) return 0;
    e->pid = pid;
    e->count = count ? *count : 1;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

BCC_SOURCE = r"""
struct event { u32 pid; u64 count; char comm[16]; };
BPF_HASH(counts, u32, u64, 10240);
BPF_RINGBUF_OUTPUT(events, 16);
TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 zero = 0, *count = counts.lookup_or_try_init(&pid, &zero);
    if (count) (*count)++;
    struct event *e = events.ringbuf_reserve(sizeof(*e));
    if (!e) return 0;
    e->pid = pid; e->count = count ? *count : 1;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    events.ringbuf_submit(e, 0);
    return 0;
}
"""

PIN_ROOT = Path("/sys/fs/bpf")
ANCHOR = "clang-14 -O2 -g -c + bpftool prog loadall (the anchor)"


def median_time(action: Callable[[int], object], runs: int) -> float:
    """The median wall time of ``action(run number)`` in seconds."""
    times = []
    for run in range(runs):
        start = time.perf_counter()
        action(run)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def unique(run: int, tag: str) -> str:
    """The program with a comment no earlier run had: a compile-cache miss."""
    return f"/* {tag} {os.getpid()} {run} {time.time_ns()} */\n" + SOURCE


def pybpf_load(source: str) -> None:
    """C text → compile_c → load_object → loaded in the kernel → closed."""
    with load(load_object(compile_c(source), name="bench"), engine="kernel") as loaded:
        assert "on_openat" in loaded.programs


def pybpf_cli(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pybpf", "load", str(path), "--engine", "kernel"],
                   check=True, capture_output=True)


def clang_bpftool(workdir: Path, run: int) -> None:
    """clang-14 → object → ``bpftool prog loadall`` (pinned) → pins removed."""
    src, obj = workdir / "prog.c", workdir / "prog.o"
    src.write_text(SOURCE)
    subprocess.run(["clang-14", "-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", "-I", str(include_dir()),
                    "-I", str(vmlinux_include_dir()), "-c", str(src), "-o", str(obj)], check=True,
                   capture_output=True)
    pins = PIN_ROOT / f"pybpf-bench-{os.getpid()}-{run}"
    try:
        subprocess.run(["bpftool", "prog", "loadall", str(obj), str(pins)], check=True, capture_output=True)
    finally:
        shutil.rmtree(pins, ignore_errors=True)     # unpinning unloads the programs


def anchor_missing() -> str | None:
    """Why clang-14 + bpftool cannot be timed here, or None."""
    if os.geteuid() != 0:
        return "not root (bpftool prog loadall needs CAP_BPF and a BPF filesystem)"
    for tool in ("clang-14", "bpftool"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {'clang-14' if tool == 'clang-14' else 'bpftool'})"
    if not PIN_ROOT.is_dir():
        return f"{PIN_ROOT} is not mounted"
    return None


def bcc(runs: int) -> str:
    """BCC's time from text to a loaded program, or why it cannot run here. BCC is the
    system's python3-bpfcc, so it runs under /usr/bin/python3, in a child process."""
    script = ("import sys, time\nfrom bcc import BPF\nt = time.perf_counter()\n"
              f"b = BPF(text={BCC_SOURCE!r})\nprint(time.perf_counter() - t)\nb.cleanup()\n")
    times = []
    for _ in range(runs):
        result = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return f"unavailable: {last}"
        times.append(float(result.stdout.split()[-1]))
    return f"{statistics.median(times):.3f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    args = parser.parse_args()
    from pybpf.kernel.engine import available

    if os.geteuid() != 0 or available() is not None:
        print(f"skipped: the kernel engine cannot load programs here ({available() or 'not root'})")
        return 0
    vmlinux_include_dir()      # generate vmlinux.h once, outside every timing
    first_start = time.perf_counter()
    pybpf_load(unique(0, "first"))
    first = time.perf_counter() - first_start
    cold = median_time(lambda run: pybpf_load(unique(run, "cold")), args.runs)
    warm_source = unique(0, "warm")
    pybpf_load(warm_source)
    warm = median_time(lambda run: pybpf_load(warm_source), args.runs)
    rows = [("pybpf, first load in a process (kernel BTF read for CO-RE)", first),
            ("pybpf API, cold compile cache", cold), ("pybpf API, warm compile cache", warm)]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        warm_path = workdir / "warm.c"
        warm_path.write_text(SOURCE)
        pybpf_cli(warm_path)

        def cold_cli(run: int) -> None:
            path = workdir / f"cold{run}.c"
            path.write_text(unique(run, "cli"))
            pybpf_cli(path)

        rows.append(("pybpf load prog.c (new process), cold cache", median_time(cold_cli, args.runs)))
        rows.append(("pybpf load prog.c (new process), warm cache",
                     median_time(lambda run: pybpf_cli(warm_path), args.runs)))
        missing = anchor_missing()
        anchor = None if missing else median_time(lambda run: clang_bpftool(workdir, run), args.runs)
    print(f"C text → program verified and loaded in the kernel (median of {args.runs} runs)")
    for label, seconds in rows:
        ratio = f"  {seconds / anchor:5.2f}x clang-14+bpftool" if anchor else ""
        print(f"  {label:<62} {seconds:7.3f} s{ratio}")
    if anchor:
        print(f"  {ANCHOR:<62} {anchor:7.3f} s   1.00x")
    else:
        print(f"  clang-14 + bpftool: skipped: {missing}")
    print(f"  {'BCC BPF(text=...)':<62} {bcc(args.runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
