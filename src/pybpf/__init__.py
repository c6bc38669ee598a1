"""pybpf: BPF, all of it, from Python.

Classic BPF and the pcap-filter language, the eBPF instruction set, and two engines for
one program: the Linux kernel and pybpf's own userspace vm. See DESIGN in the docs.

``load`` is imported on first use (:mod:`pybpf._lazy`): ``import pybpf`` runs for every
``pybpf`` command and every ``import pybpf.x``, and the engine package ``load`` comes
from pulls in the object model, both engines' map code and BTF — a tenth of a second
that ``pybpf filter`` or ``pybpf asm`` would pay for nothing.
"""

from pybpf._lazy import lazy_attributes
from pybpf.errors import PybpfError

__version__ = "0.1.0"

_SOURCES = {"load": "pybpf.engine"}
__all__ = ["PybpfError", "__version__", "load"]
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
