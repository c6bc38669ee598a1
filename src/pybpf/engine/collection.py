"""A loaded collection: the live maps and programs of one CollectionSpec."""

from __future__ import annotations

from collections.abc import Callable

from pybpf.engine.program import Program
from pybpf.errors import CodecError
from pybpf.resource import Resource

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from pybpf.engine.map import Map  # (the maps' module, with ctypes: for collections with maps)


class Collection(Resource):
    """Maps and programs by name, closed together (programs first: closing one detaches
    it, and an attached program holds its maps)."""

    close_when_collected = False

    def __init__(self, engine: str, maps: dict[str, Map], programs: dict[str, Program]):
        self.engine = engine
        self.maps = maps
        self.programs = programs
        self._closed = False

    def decoder(self, type_name: str) -> Callable[[bytes], Any]:
        """A function reading a record as the C type ``type_name`` (``"struct event"``,
        ``"u64"``...) of this collection's BTF, into attributes and Python values — for
        :class:`~pybpf.engine.events.Events` (``decode=``) and raw map bytes."""
        from pybpf.btf import BTF, Kind, decode  # BTF is needed only to decode records

        blob = next((p.spec.btf.btf for p in self.programs.values() if p.spec.btf is not None), None)
        blob = blob or next((m.spec.btf for m in self.maps.values() if m.spec.btf), None)
        if blob is None:
            raise CodecError(f"cannot decode {type_name!r}: the collection carries no BTF "
                             "(compile with -g, as pybpf.read does for C)")
        btf = BTF.parse(blob)
        keyword, _, name = type_name.strip().rpartition(" ")
        kinds = {"struct": Kind.STRUCT, "union": Kind.UNION, "enum": Kind.ENUM, "": None}
        if keyword not in kinds:
            raise CodecError(f"cannot decode {type_name!r}: expected a type name, 'struct NAME', 'union NAME' or 'enum NAME'")
        found = btf.find(name, kinds[keyword])
        if found is None:
            raise CodecError(f"cannot decode {type_name!r}: the collection's BTF has no such type "
                             "(a type only used in a cast is dropped by the compiler: declare a global of it)")
        return lambda data: decode(btf, found.id, data)

    def _close(self) -> None:
        for prog in self.programs.values():
            prog.close()
        for m in self.maps.values():
            m.close()

    def __repr__(self) -> str:
        return (f"<Collection engine={self.engine} maps={sorted(self.maps)} "
                f"programs={sorted(self.programs)}>")
