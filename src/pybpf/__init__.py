"""pybpf: BPF, all of it, from Python.

Classic BPF and the pcap-filter language, the eBPF instruction set, and two engines for
one program: the Linux kernel and pybpf's own userspace vm. See DESIGN in the docs.
"""

from pybpf.engine import load
from pybpf.errors import PybpfError

__version__ = "0.1.0"

__all__ = ["PybpfError", "__version__", "load"]
