"""The engine-neutral API: what a loaded map, program and collection offer on either
engine, and :func:`load` to get them.

Engines (``pybpf.kernel``, ``pybpf.vm``) subclass :class:`Map` and :class:`Program`,
implementing their byte-level primitives; see docs/kernel.md for the contract.
"""

from pybpf.engine.codec import Codec, make_codec
from pybpf.engine.collection import Collection
from pybpf.engine.cpus import possible_cpus
from pybpf.engine.loading import choose_engine, load
from pybpf.engine.map import ANY, EXIST, NOEXIST, Map, UpdateFlag
from pybpf.engine.program import Program, RunResult
from pybpf.errors import BPFError, CodecError, EngineUnavailable, VerifierError

__all__ = [
    "ANY", "BPFError", "Codec", "CodecError", "Collection", "EXIST", "EngineUnavailable",
    "Map", "NOEXIST", "Program", "RunResult", "UpdateFlag", "VerifierError",
    "choose_engine", "load", "make_codec", "possible_cpus",
]
