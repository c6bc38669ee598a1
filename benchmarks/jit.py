"""The JIT beside the interpreter and the kernel's JIT: nanoseconds per executed instruction.

Run: ``python benchmarks/jit.py`` (root adds the kernel column). Five programs:
``alu`` (a 7-instruction ALU loop), ``mem`` (load/add/store on the stack in a loop),
``prime`` (trial division: one mul and one mod per 9-instruction inner iteration),
``div`` (64- and 32-bit divisions and remainders by immediates, signed and unsigned, in
a loop) and ``c-loop`` (a loop compiled from C with the clang in the ziglang wheel). The
kernel runs each as a socket filter through BPF_PROG_TEST_RUN (mean ``duration`` over
many runs), with a loop count its verifier accepts; the ``jit`` column runs a longer loop
with every check (the code ``vm.run`` gets for an unverified program); ``verified`` runs
the kernel's program after :mod:`pybpf.verifier` accepted it, compiled without the
checks the verifier made unnecessary (what ``load(..., engine="vm")`` programs get): the
best of as many runs as the kernel makes (the machine is shared: the best is the
steadiest measure; the kernel reports its mean), less the cost of calling an empty
program from Python (the kernel's duration leaves out its own call). Then prints the JIT's
compile time for branch-heavy programs of 1k, 10k and 100k instructions, wall and CPU
seconds (``JIT_COMPILE_SIZES=1000,10000`` to choose; ``--compile-only`` skips the run times).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from pybpf.isa import Instruction, assemble
from pybpf.isa import opcodes as o
from pybpf.vm import CheckedProgram, run_program
from pybpf.vm.jit import CompiledProgram

ALU = """
    r0 = 0
    r1 = 0
loop:
    r0 += r1
    r0 ^= 0x5a
    r2 = r0
    r2 >>= 3
    r0 += r2
    r1 += 1
    if r1 < {n} goto loop
    exit
"""
MEM = """
    r1 = 0
    *(u64 *)(r10 -8) = r1
    r2 = 0
loop:
    r1 = *(u64 *)(r10 -8)
    r1 += r2
    *(u64 *)(r10 -8) = r1
    r2 += 1
    if r2 < {n} goto loop
    r0 = *(u64 *)(r10 -8)
    exit
"""
PRIME = """
    r6 = 0
    r1 = 2
outer:
    r2 = 2
inner:
    r3 = r2
    r3 *= r2
    if r3 > r1 goto prime
    r4 = r1
    r4 %= r2
    if r4 == 0 goto next
    r2 += 1
    goto inner
prime:
    r6 += 1
next:
    r1 += 1
    if r1 < {n} goto outer
    r0 = r6
    exit
"""
DIV = """
    r0 = 1
    r1 = 0
loop:
    r2 = r0
    r2 /= 10
    r3 = r0
    r3 %= 1000003
    r2 += r3
    w4 = w1
    w4 /= 7
    r5 = r0
    r5 s/= -3
    r0 = r2
    r0 += r4
    r0 -= r5
    r0 += r1
    r1 += 1
    if r1 < {n} goto loop
    exit
"""
C_LOOP = r"""
#define SEC(n) __attribute__((section(n), used))
SEC("socket") int cloop(void *ctx) {
    unsigned long long s = 1;
    for (unsigned int i = 0; i < N; i++)
        s = s * 31 + (i ^ (s >> 7));
    return (int)(s & 0x7fffffff);
}
char _license[] SEC("license") = "GPL";
"""
#: (vm loop count, kernel loop count): the kernel's verifier walks every iteration
SIZES = {"alu": (2_000_000, 10_000), "mem": (2_000_000, 10_000), "prime": (30_000, 300), "div": (2_000_000, 10_000),
         "c-loop": (2_000_000, 10_000)}
#: how many times the kernel and the verified JIT code run each program
REPEAT = 2000


def compile_c(n: int) -> list[Instruction]:
    from pybpf.object.elf import load_object

    with tempfile.TemporaryDirectory() as tmp:
        src, obj = os.path.join(tmp, "loop.c"), os.path.join(tmp, "loop.o")
        with open(src, "w") as f:
            f.write(C_LOOP)
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "bpfel-freestanding-none", "-O2",
                        f"-DN={n}", "-c", src, "-o", obj], check=True)
        return load_object(obj).programs["cloop"].instructions


def program(name: str, n: int) -> list[Instruction]:
    if name == "c-loop":
        return compile_c(n)
    return assemble({"alu": ALU, "mem": MEM, "prime": PRIME, "div": DIV}[name].format(n=n))


def interpreter_ns(code: list[Instruction]) -> tuple[float, int]:
    result = run_program(code, max_instructions=1 << 40, jit=False)
    return result.duration_ns / result.instructions, result.instructions


def jit_ns(code: list[Instruction], executed: int) -> float:
    compiled = CompiledProgram(CheckedProgram(code))
    compiled.run(max_instructions=1 << 40)  # warm
    best = min(compiled.run(max_instructions=1 << 40).duration_ns for _ in range(5))
    return best / executed


def verified_ns(code: list[Instruction]) -> float | str:
    """The program as a verified socket filter, compiled trusting the verifier (no
    budget, no bounds checks where the verifier proved the access), best of REPEAT runs."""
    from pybpf.verifier import verify

    verdict = verify(code, "socket_filter")
    if not verdict.accepted:
        return f"refused ({verdict.message})"
    executed = run_program(code, max_instructions=1 << 40, jit=True).instructions
    compiled = CompiledProgram(CheckedProgram(code), trusted=verdict.accesses)
    compiled.run()  # warm
    best = min(compiled.run().duration_ns for _ in range(REPEAT))
    return max(best - call_overhead_ns(), 0) / executed


def call_overhead_ns() -> float:
    """What calling compiled code from Python costs (an empty verified program, best of
    REPEAT): taken off the ``verified`` times, as the kernel's test-run duration leaves
    out its own call (the kernel's programs here run a few microseconds)."""
    from pybpf.verifier import verify

    empty = assemble("r0 = 0\nexit")
    compiled = CompiledProgram(CheckedProgram(empty), trusted=verify(empty, "socket_filter").accesses)
    compiled.run()
    return min(compiled.run().duration_ns for _ in range(REPEAT))


def kernel_ns(code: list[Instruction]) -> float | str:
    try:
        from pybpf.engine import BPFError, load
        from pybpf.kernel.engine import available
        from pybpf.object import ProgramSpec
    except ImportError as exc:
        return f"n/a ({exc})"
    if available() is not None:
        return "n/a (bpf() not permitted)"
    executed = run_program(code, max_instructions=1 << 40, jit=True).instructions
    try:
        with load(ProgramSpec("bench", "socket_filter", code), engine="kernel") as coll:
            result = coll.programs["bench"].test_run(bytes(64), repeat=REPEAT)
    except BPFError as exc:
        return f"refused ({exc.errno_name})"
    return result.duration_ns / executed


def branchy(size: int) -> list[Instruction]:
    """A branch-heavy program of ``size`` instructions: a conditional jump (over the next
    instruction) every other instruction, the shape that made compile time quadratic."""
    body = [Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 0), Instruction(o.ALU64 | o.MOV | o.X, 3, 2)]
    for i in range((size - 3) // 2):
        body += [Instruction(o.JMP | o.JEQ | o.K, 3, 0, 1, i), Instruction(o.ALU64 | o.ADD | o.K, 0, 0, 0, i | 1)]
    return body + [Instruction(o.JMP | o.EXIT)]


def compile_seconds(code: list[Instruction]) -> tuple[float, float]:
    """Wall and CPU seconds to compile ``code`` in this process (no cache). The CPU time
    is the steadier measure on a shared machine: other processes stretch the wall time,
    and the compilation is single-threaded and in-process."""
    wall, cpu = time.perf_counter(), time.process_time()
    CompiledProgram(CheckedProgram(code))
    return time.perf_counter() - wall, time.process_time() - cpu


def compile_times(sizes: list[int]) -> None:
    print(f"{'instructions':>12} {'compile s':>10} {'cpu s':>8} {'us/instruction':>15}   (branch-heavy, uncached;"
          " us of CPU time)")
    for size in sizes:
        code = branchy(size)
        wall, cpu = compile_seconds(code)
        print(f"{len(code):12,} {wall:10.2f} {cpu:8.2f} {cpu / len(code) * 1e6:15.0f}", flush=True)


def main() -> None:
    print(f"{'program':<8} {'interpreter':>12} {'jit':>9} {'verified':>9} {'kernel jit':>11}"
          "   ns per executed instruction")
    for name, (n_vm, n_kernel) in SIZES.items():
        interp, executed = interpreter_ns(program(name, n_vm // 20))   # the interpreter gets a shorter loop
        code = program(name, n_vm)
        jit = jit_ns(code, run_program(code, max_instructions=1 << 40, jit=True).instructions)
        verified = verified_ns(program(name, n_kernel))
        kernel = kernel_ns(program(name, n_kernel))
        verified_text = f"{verified:9.2f}" if isinstance(verified, float) else f"{verified:>9}"
        kernel_text = f"{kernel:11.2f}" if isinstance(kernel, float) else f"{kernel:>11}"
        ratio = f"   verified/kernel = {verified / kernel:.2f}" \
            if isinstance(kernel, float) and isinstance(verified, float) else ""
        print(f"{name:<8} {interp:12.1f} {jit:9.2f} {verified_text} {kernel_text}{ratio}", flush=True)



if __name__ == "__main__":
    if "--compile-only" not in sys.argv:
        main()
    compile_times([int(a) for a in os.environ.get("JIT_COMPILE_SIZES", "1000,10000,100000").split(",")])
