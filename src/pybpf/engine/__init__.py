"""The engine-neutral API: what a loaded map, program and collection offer on either
engine, and :func:`load` to get them.

Engines (``pybpf.kernel``, ``pybpf.vm``) subclass :class:`Map` and :class:`Program`,
implementing their byte-level primitives; see docs/kernel.md for the contract.

Names are imported on first use (:mod:`pybpf._lazy`): ``pybpf prog list`` needs the
kernel's program type names, not the loader, the codecs and the collection with them.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "Codec": "pybpf.engine.codec",
    "make_codec": "pybpf.engine.codec",
    "Collection": "pybpf.engine.collection",
    "possible_cpus": "pybpf.engine.cpus",
    "choose_engine": "pybpf.engine.loading",
    "load": "pybpf.engine.loading",
    "ANY": "pybpf.engine.map",
    "EXIST": "pybpf.engine.map",
    "NOEXIST": "pybpf.engine.map",
    "Map": "pybpf.engine.map",
    "UpdateFlag": "pybpf.engine.map",
    "Program": "pybpf.engine.program",
    "RunResult": "pybpf.engine.program",
    "BPFError": "pybpf.errors",
    "CodecError": "pybpf.errors",
    "EngineUnavailable": "pybpf.errors",
    "VerifierError": "pybpf.errors",
}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.engine.codec import Codec as Codec
    from pybpf.engine.codec import make_codec as make_codec
    from pybpf.engine.collection import Collection as Collection
    from pybpf.engine.cpus import possible_cpus as possible_cpus
    from pybpf.engine.loading import choose_engine as choose_engine
    from pybpf.engine.loading import load as load
    from pybpf.engine.map import ANY as ANY
    from pybpf.engine.map import EXIST as EXIST
    from pybpf.engine.map import NOEXIST as NOEXIST
    from pybpf.engine.map import Map as Map
    from pybpf.engine.map import UpdateFlag as UpdateFlag
    from pybpf.engine.program import Program as Program
    from pybpf.engine.program import RunResult as RunResult
    from pybpf.errors import BPFError as BPFError
    from pybpf.errors import CodecError as CodecError
    from pybpf.errors import EngineUnavailable as EngineUnavailable
    from pybpf.errors import VerifierError as VerifierError

__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
