"""CI's type check: mypy over src/ (settings in pyproject.toml), held to a baseline that
may only shrink.

The package predates its type checking; the errors mypy still reports are listed in
.ci/mypy-baseline.txt (file, error code and message — no line numbers, so edits above an
error do not move it). The check fails on any error not in the list, and on any listed
error that is gone (delete it from the list: the baseline only shrinks). Run with
``--update`` to rewrite the list after fixing errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy-baseline.txt"
_LINE = re.compile(r"^(?P<file>[^:]+):\d+(?::\d+)?: error: (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


def current_errors() -> Counter[str]:
    """mypy's errors now, each as ``file: [code] message``, counted."""
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-pretty", "--no-error-summary", "--show-error-codes"],
                         cwd=ROOT, capture_output=True, text=True)
    if run.returncode not in (0, 1) or (run.returncode == 1 and not run.stdout.strip()):
        sys.exit(f"mypy did not run: {run.stderr.strip() or run.stdout.strip()}")
    errors: Counter[str] = Counter()
    for line in run.stdout.splitlines():
        match = _LINE.match(line)
        if match:
            errors[f"{match['file']}: [{match['code'] or 'misc'}] {match['message']}"] += 1
    return errors


def main() -> int:
    errors = current_errors()
    if "--update" in sys.argv[1:]:
        BASELINE.write_text("".join(f"{e}\n" for e in sorted(errors.elements())))
        print(f"{BASELINE.name}: {sum(errors.values())} errors")
        return 0
    baseline = Counter(BASELINE.read_text().splitlines()) if BASELINE.exists() else Counter()
    new, fixed = errors - baseline, baseline - errors
    for error in sorted(new.elements()):
        print(f"new mypy error: {error}")
    for error in sorted(fixed.elements()):
        print(f"fixed, remove from {BASELINE.name}: {error}")
    if new or fixed:
        return 1
    print(f"mypy: no errors beyond the {sum(baseline.values())} in {BASELINE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
