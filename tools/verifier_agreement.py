"""Differential run of pybpf's verifier against the kernel's on generated programs.

    sudo PYTHONPATH=src python tools/verifier_agreement.py [COUNT] [SEED] [--show N]

Generates COUNT random programs (tests/verifier/generator.py), asks BPF_PROG_LOAD and
:func:`pybpf.verifier.verify` for their verdicts, and prints the agreement, the number
of programs the vm accepts that the kernel refuses (unsafe acceptances, which must be
zero), how many refusals of both fail with different errnos, and up to N disagreements
of each kind with both messages.
"""

from __future__ import annotations

import argparse
import collections
import errno
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
    parser.add_argument("--show", type=int, default=5, help="disagreements of each kind to print")
    parser.add_argument("--reasons", type=int, default=15, help="most frequent differences to count")
    args = parser.parse_args()
    kernel = Kernel()
    agree = unsafe = strict = errnos = messages = 0
    accepted = 0
    shown: dict[str, list[str]] = collections.defaultdict(list)
    reasons: collections.Counter[str] = collections.Counter()
    try:
        for number in range(args.count):
            program = Generator(args.seed * 1_000_003 + number).program()
            theirs, ours = kernel.verdict(program), vm_verdict(program)
            (k_ok, k_msg, k_errno), (v_ok, v_msg, v_errno) = theirs, ours
            accepted += k_ok
            if k_ok == v_ok:
                agree += 1
                if not k_ok and k_errno != v_errno:
                    errnos += 1
                    reasons[f"errno: kernel {errno.errorcode.get(k_errno)} ({k_msg}), "
                            f"vm {errno.errorcode.get(v_errno)} ({v_msg})"] += 1
                elif not k_ok and k_msg != v_msg:
                    messages += 1
                    reasons[f"message: kernel {k_msg!r}, vm {v_msg!r}"] += 1
                    if len(shown["message"]) < args.show:
                        shown["message"].append(f"--- {program.kind} (seed {args.seed * 1_000_003 + number})\n"
                                                f"{program.text}\nkernel: {k_msg}\nvm:     {v_msg}")
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
    for reason, count in reasons.most_common(args.reasons):
        print(f"{count:6d}  {reason}")
    print(f"programs {args.count}  kernel accepted {accepted}  agreement {100 * agree / args.count:.2f}%  "
          f"unsafe acceptances {unsafe}  stricter refusals {strict}\n"
          f"refusals of both with another errno {errnos}, with the same errno and another message {messages}")
    return 1 if unsafe else 0


if __name__ == "__main__":
    sys.exit(run_interruptible(main))  # SIGTERM unloads as Ctrl-C does
