"""A loaded collection: the live maps and programs of one CollectionSpec."""

from __future__ import annotations

from pybpf.engine.map import Map
from pybpf.engine.program import Program
from pybpf.resource import Resource


class Collection(Resource):
    """Maps and programs by name, closed together (programs first: closing one detaches
    it, and an attached program holds its maps)."""

    close_when_collected = False

    def __init__(self, engine: str, maps: dict[str, Map], programs: dict[str, Program]):
        self.engine = engine
        self.maps = maps
        self.programs = programs
        self._closed = False

    def _close(self) -> None:
        for prog in self.programs.values():
            prog.close()
        for m in self.maps.values():
            m.close()

    def __repr__(self) -> str:
        return (f"<Collection engine={self.engine} maps={sorted(self.maps)} "
                f"programs={sorted(self.programs)}>")
