"""``python -m pybpf.bcc SCRIPT.py [ARGS]``: run a BCC script unmodified, its ``import bcc``
answered by pybpf.bcc. The compat directory goes on ``sys.path`` for this run only, so
an installed BCC is never shadowed anywhere else."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from pybpf.errors import PybpfError
from pybpf.termination import sigterm_as_sigint


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m pybpf.bcc SCRIPT.py [ARGS...]", file=sys.stderr)
        return 2
    script = Path(args[0])
    if not script.is_file():
        print(f"pybpf.bcc: {script}: no such script", file=sys.stderr)
        return 2
    with open(script, "rb") as f:
        first = f.readline()
    if first.startswith(b"#!") and b"python" not in first:
        # Debian's pythoncalls-bpfcc and friends are sh wrappers around lib/ucalls ...
        print(f"pybpf.bcc: {script}: not a Python script ({first[2:].strip().decode(errors='replace')}); "
              "run the Python script it starts", file=sys.stderr)
        return 2
    sys.argv = [str(script), *args[1:]]
    for name in [m for m in sys.modules if m == "bcc" or m.startswith("bcc.")]:
        del sys.modules[name]
    sys.path[:0] = [str(script.resolve().parent), str(Path(__file__).resolve().parent / "compat")]
    try:
        with sigterm_as_sigint():   # killed: detach and close as on Ctrl-C
            runpy.run_path(str(script), run_name="__main__")
    except PybpfError as exc:
        print(f"{script.name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
