"""CollectionSpec: the maps and programs that are loaded together."""

from __future__ import annotations

from pybpf.object.errors import SpecError
from pybpf.object.maps import MapSpec
from pybpf.object.programs import ProgramSpec

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field


@dataclass
class CollectionSpec:
    """Maps and programs by name; every program reference names a map in ``maps``."""

    maps: dict[str, MapSpec] = field(default_factory=dict)
    programs: dict[str, ProgramSpec] = field(default_factory=dict)

    @classmethod
    def of(cls, *specs: MapSpec | ProgramSpec) -> CollectionSpec:
        """A collection from specs, each filed under its own name."""
        out = cls()
        for spec in specs:
            table: dict = out.maps if isinstance(spec, MapSpec) else out.programs
            if spec.name in table:
                raise SpecError(f"two specs are named {spec.name!r}")
            table[spec.name] = spec
        return out

    def check(self) -> CollectionSpec:
        """Check every spec and that every map reference resolves; return self."""
        for name, spec in self.maps.items():
            if name != spec.name:
                raise SpecError(f"map {spec.name!r} is filed under {name!r}")
            spec.check()
        for name, prog in self.programs.items():
            if name != prog.name:
                raise SpecError(f"program {prog.name!r} is filed under {name!r}")
            prog.check()
            for index, map_name in prog.references.items():
                if map_name not in self.maps:
                    raise SpecError(f"program {name!r}: instruction {index} refers to map "
                                    f"{map_name!r}, which the collection does not define")
        return self
