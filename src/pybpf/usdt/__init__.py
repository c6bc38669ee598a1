"""User statically-defined tracing (USDT): probe sites and their arguments, read from
ELF notes, ready for a uprobe (file offset, semaphore offset) and for a BPF program
that fetches argument N from the registers (``UsdtArgument``).
"""

from pybpf.usdt.arguments import ArgKind, UsdtArgument, parse_argument, parse_arguments, x86_64_register_offset
from pybpf.usdt.errors import UsdtError
from pybpf.usdt.notes import UsdtProbe, find_probe, read_probes
from pybpf.usdt.reader import c_reader

__all__ = [
    "ArgKind",
    "UsdtArgument",
    "UsdtError",
    "UsdtProbe",
    "c_reader",
    "find_probe",
    "parse_argument",
    "parse_arguments",
    "read_probes",
    "x86_64_register_offset",
]
