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
buffers on either engine; :class:`TracePipe` reads what ``bpf_printk`` prints;
:func:`run_interruptible` runs a program's main so that Ctrl-C and SIGTERM both end it
through its ``finally`` blocks (links detached, namespaces removed). Classic BPF, pcap filters, the assembler and both engines'
internals live in the subpackages (``pybpf.filter``, ``pybpf.isa``, ``pybpf.kernel``,
``pybpf.vm``...).

Names are imported on first use (:mod:`pybpf._lazy`): ``import pybpf`` runs for every
``pybpf`` command and must not load the engines; the ``TYPE_CHECKING`` imports below give
type checkers and IDEs the same names with their real types.
"""

from pybpf._lazy import lazy_attributes
from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing (~5 ms of every command)
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf import btf as btf
    from pybpf import capture as capture
    from pybpf import cbpf as cbpf
    from pybpf import filter as filter
    from pybpf import isa as isa
    from pybpf import kernel as kernel
    from pybpf import object as object
    from pybpf import output as output
    from pybpf import seccomp as seccomp
    from pybpf import symbols as symbols
    from pybpf import toolchain as toolchain
    from pybpf import tracefs as tracefs
    from pybpf import usdt as usdt
    from pybpf import vm as vm
    from pybpf.engine import BPFError as BPFError
    from pybpf.engine import Collection as Collection
    from pybpf.engine import EngineUnavailable as EngineUnavailable
    from pybpf.engine import Map as Map
    from pybpf.engine import Program as Program
    from pybpf.engine import RunResult as RunResult
    from pybpf.engine import VerifierError as VerifierError
    from pybpf.engine import load as load
    from pybpf.engine.events import Event as Event
    from pybpf.engine.events import Events as Events
    from pybpf.engine.link import Link as Link
    from pybpf.object import CollectionSpec as CollectionSpec
    from pybpf.object import MapSpec as MapSpec
    from pybpf.object import MapType as MapType
    from pybpf.object import ProgramSpec as ProgramSpec
    from pybpf.object import ProgramType as ProgramType
    from pybpf.object.source import read as read
    from pybpf.termination import run_interruptible as run_interruptible
    from pybpf.toolchain import compile_c as compile_c
    from pybpf.tracefs import TracePipe as TracePipe

__version__ = "0.1.0"

_SOURCES = {
    "read": "pybpf.object.source", "load": "pybpf.engine", "compile_c": "pybpf.toolchain",
    "Collection": "pybpf.engine", "Map": "pybpf.engine", "Program": "pybpf.engine", "RunResult": "pybpf.engine",
    "Link": "pybpf.engine.link", "Events": "pybpf.engine.events", "Event": "pybpf.engine.events",
    "CollectionSpec": "pybpf.object", "MapSpec": "pybpf.object", "ProgramSpec": "pybpf.object",
    "MapType": "pybpf.object", "ProgramType": "pybpf.object",
    "TracePipe": "pybpf.tracefs", "run_interruptible": "pybpf.termination",
    "BPFError": "pybpf.engine", "VerifierError": "pybpf.engine", "EngineUnavailable": "pybpf.engine",
}
__all__ = ["PybpfError", "__version__", *_SOURCES]
#: the subpackages, reachable as ``pybpf.NAME`` without importing them by hand
_SUBPACKAGES = ("btf", "capture", "cbpf", "filter", "isa", "kernel", "object", "output", "seccomp", "symbols",
                "toolchain", "tracefs", "usdt", "vm")
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES, _SUBPACKAGES)
