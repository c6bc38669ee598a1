"""The cost of one test run on each engine: the kernel's BPF_PROG_TEST_RUN against the
vm engine's, for a socket filter that counts into an array map (the duration each engine
measures itself, per run, averaged over many runs).

Run: ``python benchmarks/test_run.py [REPEAT]`` (root for the kernel column).
"""

from __future__ import annotations

import sys

from pybpf.engine import EngineUnavailable, load
from pybpf.isa import assemble
from pybpf.object import CollectionSpec, MapSpec, ProgramSpec
from pybpf.termination import run_interruptible

COUNTER = """
    *(u32 *)(r10 -4) = 0
    r1 = map[fd:0]
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
out:
    r0 = 0
    exit
"""


def per_run_ns(engine: str, repeat: int) -> float | None:
    program = assemble(COUNTER)
    spec = CollectionSpec.of(MapSpec("hits", "array", 4, 8, 1),
                             ProgramSpec("count", "socket_filter", program, references={1: "hits"}))
    try:
        with load(spec, engine=engine) as coll:
            result = coll.programs["count"].test_run(bytes(64), repeat=repeat)
            assert coll.maps["hits"][0] == repeat
            return float(result.duration_ns)
    except EngineUnavailable:
        return None


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    vm = per_run_ns("vm", repeat)
    kernel = per_run_ns("kernel", repeat)
    print(f"test run of a map-counting socket filter, mean of {repeat} runs")
    print(f"  vm engine:     {vm:10.0f} ns per run")
    if kernel is None:
        print("  kernel engine: not permitted here")
    else:
        print(f"  kernel engine: {kernel:10.0f} ns per run   vm/kernel = {vm / kernel:.0f}x")


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
