"""Backend-neutral specs: what to load, before an engine (kernel or vm) loads it.

A :class:`CollectionSpec` holds :class:`MapSpec` and :class:`ProgramSpec` values by name.
Specs are plain, editable data; ``check()`` finds what no engine would accept, with the
spec's name in the message. :func:`pybpf.engine.load` turns a spec into live objects.
"""

from pybpf.object.collection import CollectionSpec
from pybpf.object.errors import SpecError
from pybpf.object.kinds import AttachType, MapFlag, MapType, ProgramType
from pybpf.object.maps import MapSpec, Pinning
from pybpf.object.programs import BTFInfo, ProgramSpec

__all__ = [
    "AttachType", "BTFInfo", "CollectionSpec", "MapFlag", "MapSpec", "MapType", "Pinning",
    "ProgramSpec", "ProgramType", "SpecError",
]
