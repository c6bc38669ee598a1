"""Differential run of pybpf's verifier against the kernel's on generated programs.

    sudo PYTHONPATH=src python tools/verifier_agreement.py [COUNT] [SEED] [--show N]

Generates COUNT random programs (tests/verifier/generator.py), asks BPF_PROG_LOAD and
:func:`pybpf.verifier.verify` for their verdicts, and prints the agreement, the number
of programs the vm accepts that the kernel refuses (unsafe acceptances, which must be
zero), and up to N disagreements of each kind with both messages.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "verifier"))

from generator import Generator
from oracle import Kernel, vm_verdict

from pybpf.termination import run_interruptible


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument("seed", type=int, nargs="?", default=1)
    parser.add_argument("--show", type=int, default=5)
    args = parser.parse_args()
    kernel = Kernel()
    agree = unsafe = strict = 0
    accepted = 0
    shown: dict[str, list[str]] = collections.defaultdict(list)
    reasons: collections.Counter[str] = collections.Counter()
    try:
        for number in range(args.count):
            program = Generator(args.seed * 1_000_003 + number).program()
            k_ok, k_msg = kernel.verdict(program)
            v_ok, v_msg = vm_verdict(program)
            accepted += k_ok
            if k_ok == v_ok:
                agree += 1
                continue
            which = "unsafe" if v_ok else "strict"
            if v_ok:
                unsafe += 1
                reasons[f"unsafe: kernel says {k_msg}"] += 1
            else:
                strict += 1
                reasons[f"strict: vm says {v_msg}"] += 1
            if len(shown[which]) < args.show:
                shown[which].append(f"--- {program.kind} (seed {args.seed * 1_000_003 + number})\n{program.text}\n"
                                    f"kernel: {k_msg or 'accepted'}\nvm:     {v_msg or 'accepted'}")
    finally:
        kernel.close()
    for which, items in shown.items():
        print(f"== {which} disagreements (first {len(items)})")
        print("\n".join(items))
    for reason, count in reasons.most_common(15):
        print(f"{count:6d}  {reason}")
    print(f"programs {args.count}  kernel accepted {accepted}  agreement {100 * agree / args.count:.2f}%  "
          f"unsafe acceptances {unsafe}  stricter refusals {strict}")
    return 1 if unsafe else 0


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
