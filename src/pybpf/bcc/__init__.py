"""BCC's Python API and C dialect on pybpf: ``from pybpf.bcc import BPF`` (or, under
``python -m pybpf.bcc SCRIPT.py``, plain ``from bcc import BPF``) compiles BCC programs
with pybpf's clang and vmlinux.h — no kernel headers, no system LLVM.
See docs/bcc.md for what runs and how the dialect is translated.
"""

from pybpf.bcc.bpf import BPF, BccError
from pybpf.bcc.table import TableError
from pybpf.bcc.tokens import BccSyntaxError

__all__ = ["BPF", "BccError", "BccSyntaxError", "TableError"]
