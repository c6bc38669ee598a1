"""The vm interpreter's speed: nanoseconds per executed instruction, beside the kernel's.

Run: ``python benchmarks/interpreter.py [ITERATIONS]``. The program is a counting loop of
four instructions per iteration (a million iterations by default). The anchor is what a
user with root would use instead: the kernel running the same program through
BPF_PROG_TEST_RUN (JIT-compiled), measured in the same run when bpf() is permitted; the
ratio says how much slower pybpf's portable engine is. (uBPF, the other userspace VM, has
no Python package to compare against here.)
"""

from __future__ import annotations

import sys
import time

from pybpf.isa import assemble
from pybpf.vm import CheckedProgram, run_program

LOOP = """
    r0 = 0
    r1 = 0
loop:
    r0 += r1
    r0 ^= 0x55
    r1 += 1
    if r1 < {n} goto loop
    exit
"""


def vm_ns_per_instruction(n: int) -> tuple[float, int]:
    program = CheckedProgram(assemble(LOOP.format(n=n)))
    start = time.perf_counter_ns()
    result = run_program(program, max_instructions=10 * n + 10)
    elapsed = time.perf_counter_ns() - start
    return elapsed / result.instructions, result.instructions


#: the kernel's verifier walks every iteration of a loop and stops at a million
#: processed instructions, so its copy of the loop is shorter and run many times
KERNEL_ITERATIONS = 20_000


def kernel_ns_per_instruction() -> float | None:
    try:
        from pybpf.engine import load
        from pybpf.kernel.engine import available
        from pybpf.object import ProgramSpec
    except ImportError:
        return None
    if available() is not None:
        return None
    spec = ProgramSpec("bench_loop", "socket_filter", assemble(LOOP.format(n=KERNEL_ITERATIONS)))
    with load(spec, engine="kernel") as coll:
        result = coll.programs["bench_loop"].test_run(bytes(64), repeat=200)
    return result.duration_ns / (4 * KERNEL_ITERATIONS + 3)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    vm, executed = vm_ns_per_instruction(n)
    print(f"vm interpreter: {executed:,} instructions, {vm:.1f} ns per instruction "
          f"({1e3 / vm:.2f} M instructions/s)")
    kernel = kernel_ns_per_instruction()
    if kernel is None:
        print("kernel (BPF_PROG_TEST_RUN): not permitted here, no ratio")
    else:
        print(f"kernel (BPF_PROG_TEST_RUN, JIT): {kernel:.2f} ns per instruction; vm/kernel = {vm / kernel:.0f}x")


if __name__ == "__main__":
    main()
