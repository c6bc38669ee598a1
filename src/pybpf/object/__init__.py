"""Backend-neutral specs: what to load, before an engine (kernel or vm) loads it.

A :class:`CollectionSpec` holds :class:`MapSpec` and :class:`ProgramSpec` values by name.
Specs are plain, editable data; ``check()`` finds what no engine would accept, with the
spec's name in the message. :func:`pybpf.engine.load` turns a spec into live objects.

Names are imported on first use (:mod:`pybpf._lazy`): a command that needs one helper of
a submodule (``pybpf asm`` reads its file with :mod:`pybpf.object.source`) does not load
every spec class, and the program spec's BTF line info with them.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "CollectionSpec": "pybpf.object.collection",
    "SpecError": "pybpf.object.errors",
    "AttachType": "pybpf.object.kinds",
    "MapFlag": "pybpf.object.kinds",
    "MapType": "pybpf.object.kinds",
    "ProgramType": "pybpf.object.kinds",
    "MapSpec": "pybpf.object.maps",
    "Pinning": "pybpf.object.maps",
    "BTFInfo": "pybpf.object.programs",
    "ProgramSpec": "pybpf.object.programs",
}
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.object.collection import CollectionSpec as CollectionSpec
    from pybpf.object.errors import SpecError as SpecError
    from pybpf.object.kinds import AttachType as AttachType
    from pybpf.object.kinds import MapFlag as MapFlag
    from pybpf.object.kinds import MapType as MapType
    from pybpf.object.kinds import ProgramType as ProgramType
    from pybpf.object.maps import MapSpec as MapSpec
    from pybpf.object.maps import Pinning as Pinning
    from pybpf.object.programs import BTFInfo as BTFInfo
    from pybpf.object.programs import ProgramSpec as ProgramSpec

__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
