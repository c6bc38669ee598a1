"""pybpf: BPF, all of it, from Python.

The front door — everything a program needs from source to events::

    import pybpf

    spec = pybpf.read("counter.c")            # C, an ELF object, assembly or raw bytes
    with pybpf.load(spec) as coll:            # on the kernel, or pybpf's vm where bpf() is refused
        with coll.programs["count"].attach():  # where its section says; returns a Link
            ...
        print(dict(coll.maps["counts"].items()))

``read`` turns any program source into a spec; ``load`` puts a spec on an engine and
returns a :class:`Collection` of live :class:`Map` and :class:`Program` objects;
``Program.attach`` returns a :class:`Link`; :class:`Events` reads ring buffers and perf
buffers on either engine. Classic BPF, pcap filters, the assembler and both engines'
internals live in the subpackages (``pybpf.filter``, ``pybpf.isa``, ``pybpf.kernel``,
``pybpf.vm``...).

Names are imported on first use (:mod:`pybpf._lazy`): ``import pybpf`` runs for every
``pybpf`` command and must not load the engines; the ``TYPE_CHECKING`` imports below give
type checkers and IDEs the same names with their real types.
"""

from typing import TYPE_CHECKING

from pybpf._lazy import lazy_attributes
from pybpf.errors import PybpfError

if TYPE_CHECKING:
    from pybpf.engine import (
        BPFError,
        Collection,
        EngineUnavailable,
        Map,
        Program,
        RunResult,
        VerifierError,
        load,
    )
    from pybpf.engine.events import Event, Events
    from pybpf.engine.link import Link
    from pybpf.object import CollectionSpec, MapSpec, MapType, ProgramSpec, ProgramType
    from pybpf.object.source import read
    from pybpf.toolchain import compile_c

__version__ = "0.1.0"

_SOURCES = {
    "read": "pybpf.object.source", "load": "pybpf.engine", "compile_c": "pybpf.toolchain",
    "Collection": "pybpf.engine", "Map": "pybpf.engine", "Program": "pybpf.engine", "RunResult": "pybpf.engine",
    "Link": "pybpf.engine.link", "Events": "pybpf.engine.events", "Event": "pybpf.engine.events",
    "CollectionSpec": "pybpf.object", "MapSpec": "pybpf.object", "ProgramSpec": "pybpf.object",
    "MapType": "pybpf.object", "ProgramType": "pybpf.object",
    "BPFError": "pybpf.engine", "VerifierError": "pybpf.engine", "EngineUnavailable": "pybpf.engine",
}
__all__ = ["PybpfError", "__version__", *_SOURCES]
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
