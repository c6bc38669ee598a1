"""pybpf's verifier beside the kernel's: microseconds per processed instruction.

    sudo PYTHONPATH=src python benchmarks/verifier.py [COUNT]

Verifies the same programs with :func:`pybpf.verifier.verify` (its CPU time, best of 3)
and with BPF_PROG_LOAD (log level 4: the kernel's own "verification time" and
"processed N insns" lines), and
prints for each kind of program the time per processed instruction of both and their
ratio: a bounded loop (many states), a packet parser, and COUNT random programs the
kernel accepts from the differential generator (tests/verifier/generator.py).
"""

from __future__ import annotations

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "verifier"))

from generator import Generated, Generator
from oracle import VM_MAPS, Kernel

from pybpf.isa import assemble
from pybpf.object import ProgramSpec, ProgramType
from pybpf.termination import run_interruptible
from pybpf.verifier import verify

LOOP = "r1 = 0\nr0 = 0\nl:\nr0 += r1\nr2 = r0\nr2 &= 7\nr1 += 1\nif r1 < {n} goto l\nexit"
PARSER = """r2 = *(u32 *)(r1 +0)
r3 = *(u32 *)(r1 +4)
r4 = r2
r4 += 34
if r4 > r3 goto out
r5 = *(u16 *)(r2 +12)
if r5 != 0x8 goto out
r5 = *(u8 *)(r2 +23)
if r5 == 6 goto tcp
if r5 == 17 goto udp
goto out
tcp:
r0 = *(u32 *)(r2 +26)
goto out
udp:
r0 = *(u32 *)(r2 +30)
out:
r0 = 2
exit"""


def kernel_time(kernel: Kernel, program: Generated) -> tuple[float, int]:
    """(microseconds, processed instructions) the kernel reports for one load."""
    from pybpf.kernel.programs import load_program

    maps = kernel._maps(program.kind)
    spec = ProgramSpec("verifier_bench", program.kind, program.instructions, references=program.references)
    loaded = load_program(spec, lambda name: maps[name].fd, log_level=4)
    try:
        usec = int(re.search(r"verification time (\d+) usec", loaded.log).group(1))
        processed = int(re.search(r"processed (\d+) insns", loaded.log).group(1))
    finally:
        loaded.close()
    return usec, processed


def vm_time(program: Generated, repeat: int = 3) -> tuple[float, int]:
    """(microseconds, processed instructions) of pybpf's verifier: the CPU time of the
    best of ``repeat`` runs (on a shared machine, wall time counts other processes' turns)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        verdict = verify(program.instructions, program.kind, VM_MAPS)
        best = min(best, time.process_time() - start)
    assert verdict.accepted, verdict.message
    return best * 1e6, verdict.processed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    kernel = Kernel()
    groups: dict[str, list[Generated]] = {
        "bounded loop (1000 iterations)": [Generated(ProgramType.SOCKET_FILTER, LOOP.format(n=1000),
                                                     assemble(LOOP.format(n=1000)))],
        "packet parser": [Generated(ProgramType.XDP, PARSER, assemble(PARSER))],
        "random accepted programs": [],
    }
    seed = 0
    while len(groups["random accepted programs"]) < count:
        program = Generator(7_000_000 + seed).program()
        seed += 1
        if kernel.verdict(program)[0] and verify(program.instructions, program.kind, VM_MAPS).accepted:
            groups["random accepted programs"].append(program)
    print(f"{'programs':34} {'insns':>9} {'pybpf us':>10} {'kernel us':>10} {'pybpf us/insn':>14} "
          f"{'kernel us/insn':>15} {'ratio':>7}")
    try:
        for name, programs in groups.items():
            vm_us = vm_insns = k_us = k_insns = 0
            for program in programs:
                us, insns = vm_time(program)
                vm_us, vm_insns = vm_us + us, vm_insns + insns
                us, insns = kernel_time(kernel, program)
                k_us, k_insns = k_us + us, k_insns + insns
            per_vm, per_kernel = vm_us / vm_insns, max(k_us, 1) / k_insns
            print(f"{name:34} {vm_insns:>9} {vm_us:>10.0f} {k_us:>10} {per_vm:>14.2f} {per_kernel:>15.3f} "
                  f"{per_vm / per_kernel:>6.1f}x")
    finally:
        kernel.close()


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
