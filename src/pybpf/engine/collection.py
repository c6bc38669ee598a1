"""A loaded collection: the live maps and programs of one CollectionSpec."""

from __future__ import annotations

from pybpf.engine.map import Map
from pybpf.engine.program import Program


class Collection:
    """Maps and programs by name, closed together (programs first, then maps)."""

    def __init__(self, engine: str, maps: dict[str, Map], programs: dict[str, Program]):
        self.engine = engine
        self.maps = maps
        self.programs = programs

    def close(self) -> None:
        """Close every program and map (idempotent)."""
        for prog in self.programs.values():
            prog.close()
        for m in self.maps.values():
            m.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Collection engine={self.engine} maps={sorted(self.maps)} "
                f"programs={sorted(self.programs)}>")
