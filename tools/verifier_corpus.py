"""Real programs judged by pybpf's verifier and the kernel's, side by side.

    sudo PYTHONPATH=src python tools/verifier_corpus.py FILE.bpf.c...

Compiles each C file with pybpf's toolchain and runs ``pybpf verify FILE --section PROG
--compare --json`` for every program in it (one process each, as a user would), then
prints one line a program — AGREE, STRICT (pybpf refuses what the kernel accepts) or
LAXER (pybpf accepts what the kernel refuses) — and the totals. A kernel refusal with
EPERM before any verification (this machine's kernel refuses every fentry/fexit/LSM
load so) is no verdict: such programs are counted apart, as ``not judged``.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path


def judge(path: Path, program: str) -> tuple[str, str]:
    """(category, line) for one program of ``path``."""
    run = subprocess.run([sys.executable, "-m", "pybpf", "verify", path.name, "--section", program, "--compare",
                          "--json"], capture_output=True, text=True, cwd=path.parent)
    try:
        row = json.loads(run.stdout)
    except ValueError:
        lines = (run.stderr or run.stdout).strip().splitlines()
        return "ERROR", f"ERROR {path.name}:{program}: {lines[-1] if lines else run.returncode}"
    kernel = row.get("kernel", {})
    if not kernel.get("accepted") and "EPERM" in kernel.get("message", ""):     # refused before verifying
        category = "NOT JUDGED"
    elif kernel.get("accepted") == row["accepted"]:
        category = "AGREE"
    else:
        category = "LAXER" if row["accepted"] else "STRICT"
    return category, (f"{category} {path.name}:{program} ({row['type']}) pybpf={row['accepted']} "
                      f"{row['message'][:100]!r} kernel={kernel.get('accepted')} {kernel.get('message', '')[:100]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    import pybpf
    from pybpf.errors import PybpfError

    totals: collections.Counter[str] = collections.Counter()
    for path in args.files:
        try:
            spec = pybpf.read(path, include_dirs=[str(path.parent)])
        except PybpfError as exc:
            totals["does not compile"] += 1
            print(f"COMPILE {path.name}: {str(exc).splitlines()[0][:150]}", flush=True)
            continue
        for program in spec.programs:
            category, line = judge(path.resolve(), program)
            totals[category] += 1
            print(line, flush=True)
    judged = totals["AGREE"] + totals["STRICT"] + totals["LAXER"]
    print(f"programs judged by the kernel {judged}: agree {totals['AGREE']}  stricter {totals['STRICT']}  "
          f"laxer {totals['LAXER']}  |  not judged (kernel EPERM) {totals['NOT JUDGED']}  errors {totals['ERROR']}  "
          f"files not compiling {totals['does not compile']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
