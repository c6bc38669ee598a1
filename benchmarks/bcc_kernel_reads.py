"""What deciding BCC's implicit kernel reads on clang's syntax tree costs at start-up,
beside the compile of the same program.

Run: ``python benchmarks/bcc_kernel_reads.py [--runs N]``.

For a program not seen before (a fresh struct makes each run's text new, so neither the
analysis cache nor the object cache answers) and then for the same program again
(both caches warm): the time of ``rewrite_kernel_reads`` (one clang ``-ast-dump=json``
run, then the data flow) and of ``compile_c`` (clang to a BPF object), medians of the
runs, and their ratio. BCC itself cannot run here; its rewriter runs inside the compile
it does anyway.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial

from pybpf.bcc.kernel_reads import rewrite_kernel_reads
from pybpf.bcc.prelude import PRELUDE, kernel_constants, tracepoint_struct
from pybpf.bcc.preprocess import preprocess
from pybpf.bcc.translate import translate
from pybpf.toolchain.compile import compile_c

FLAGS = ["-Wno-unused-value", "-Wno-pointer-sign", "-Wno-int-conversion", "-Wno-incompatible-pointer-types",
         "-Wno-unused-variable"]

PROGRAMS = {
    "tracepoint, no kernel reads": r"""
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u64 ts = bpf_ktime_get_ns();
    events.perf_submit(args, &ts, sizeof(ts));
    return 0;
}""",
    "execsnoop-like, kernel reads": r"""
struct data_t { u32 pid; u32 ppid; char comm[16]; };
BPF_HASH(current, u32, struct task_struct *);
BPF_PERF_OUTPUT(events);
int syscall__execve(struct pt_regs *ctx, const char __user *filename) {
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    current.update(&pid, &task);
    return 0;
}
int do_ret_sys_execve(struct pt_regs *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct task_struct **tpp = current.lookup(&pid);
    if (!tpp) return 0;
    struct data_t data = {};
    data.pid = pid;
    data.ppid = (*tpp)->real_parent->tgid;
    bpf_probe_read_kernel_str(&data.comm, sizeof(data.comm), (*tpp)->comm);
    events.perf_submit(ctx, &data, sizeof(data));
    current.delete(&pid);
    return 0;
}""",
}


def _prepared(text: str) -> tuple[str, str]:
    """(prefix, translated program) as compile_program builds them."""
    translation = translate(preprocess(text))
    headers = kernel_constants(translation.source) + "".join(
        tracepoint_struct(c, e) for c, e in sorted(translation.tracepoint_structs))
    return PRELUDE + headers, translation.source


def _time(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name, text in PROGRAMS.items():
        cold_reads, cold_compile, warm_reads, warm_compile = [], [], [], []
        for _ in range(args.runs):
            prefix, body = _prepared(f"struct fresh_{uuid.uuid4().hex} {{ int a; }};\n" + text)
            for reads, compiles in ((cold_reads, cold_compile), (warm_reads, warm_compile)):
                reads.append(_time(partial(rewrite_kernel_reads, prefix, body, FLAGS)))
                source = prefix + rewrite_kernel_reads(prefix, body, FLAGS)
                compiles.append(_time(partial(compile_c, source, cflags=FLAGS)))
        for label, reads, compiles in (("new program", cold_reads, cold_compile),
                                       ("seen before", warm_reads, warm_compile)):
            r, c = statistics.median(reads), statistics.median(compiles)
            print(f"{name:30} {label:12} kernel reads {1000 * r:7.1f} ms   compile {1000 * c:7.1f} ms   "
                  f"ratio {r / c:5.2f}x")


if __name__ == "__main__":
    main()
