"""BPF ELF object → :class:`~pybpf.object.CollectionSpec`.

The spec is what both engines load: programs (typed by their section names, linked
with their subprograms), the maps they reference (legacy definitions, BTF-defined
``.maps``, and the array maps behind global variables), and the license.
"""

from __future__ import annotations

import os

from pybpf.btf.errors import BTFError
from pybpf.object.collection import CollectionSpec
from pybpf.object.elf.debug_info import ObjectBTF, apply_core, program_btf, program_core, read_btf
from pybpf.object.elf.externs import KCONFIG, read_externs
from pybpf.object.elf.linker import functions, link
from pybpf.object.elf.maps import data_maps, kconfig_map, legacy_maps
from pybpf.object.elf.reader import ElfObject, ObjectError, read_object
from pybpf.object.errors import SpecError
from pybpf.object.kinds import ProgramType
from pybpf.object.maps import MapSpec
from pybpf.object.programs import ProgramSpec
from pybpf.object.sections import SectionKind, section_kind

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pathlib import Path

    from pybpf.btf import BTF


def load_object(source: str | Path | bytes, *, name: str = "",
                core_btf: BTF | str | Path | None = None) -> CollectionSpec:
    """Read a BPF object (a path or its bytes) into a CollectionSpec.

    CO-RE relocations are applied here, against ``core_btf`` (a :class:`~pybpf.btf.BTF`
    or the path of a BTF file) or, by default, the running kernel's BTF — so the spec
    runs on both engines as the kernel it was relocated for lays its types out.
    """
    obj = read_object(source, name)
    object_name = name or (os.path.splitext(os.path.basename(source))[0]   # (Path(source).stem)
                          if not isinstance(source, (bytes, bytearray, memoryview)) else "obj")
    license = _license(obj)
    table = functions(obj)
    btf = read_btf(obj)
    if btf is not None:
        apply_core(obj, table, btf, core_btf)
    declared = {**legacy_maps(obj), **btf_maps(obj, btf)}
    weak = {sym.name for sym in obj.symbols if sym.section < 0 and sym.bind == "STB_WEAK"}
    externs = read_externs(btf.local if btf is not None else None, btf.blob if btf is not None else b"", weak)
    programs: dict[str, ProgramSpec] = {}
    used_data: set[str] = set()
    linked_programs = []
    for (section_index, _), function in sorted(table.items()):
        section = obj.sections[section_index]
        if section.name == ".text":
            continue
        # a section libbpf does not know leaves the type unset, as libbpf's open does: the
        # user sets it before loading (load() refuses the program until then)
        kind = section_kind(section.name) or SectionKind(ProgramType.UNSPEC, None, "")
        linked = link(obj, function, table, externs)
        missing = sorted(set(linked.maps.values()) - set(declared))
        if missing:
            raise ObjectError(f"{obj.path}: program {function.name!r} refers to {missing[0]!r}, "
                              "which is not a map this object defines")
        used_data.update(section_name for section_name, _ in linked.data.values())
        linked_programs.append((function, section.name, kind, linked))
    data = data_maps(obj, object_name, used_data - {KCONFIG})
    if KCONFIG in used_data:
        data[KCONFIG] = (kconfig_map(object_name, externs, str(obj.path)), None)
    for function, section_name, kind, linked in linked_programs:
        # a map's spec carries the kernel's 15-character name; symbols may be longer
        references = {index: declared[name].name for index, name in linked.maps.items()}
        references.update({index: data[sec][0].name for index, (sec, _) in linked.data.items()})
        if function.name in programs:
            raise ObjectError(f"{obj.path}: two programs are called {function.name!r}")
        programs[function.name] = ProgramSpec(
            function.name, kind.program_type, linked.instructions, license=license,
            expected_attach_type=kind.attach_type, references=references,
            attach_to=kind.target, section=section_name,
            btf=program_btf(btf, linked) if btf is not None else None, core=program_core(linked),
        )
    maps = {spec.name: spec for spec in declared.values()}
    maps.update({spec.name: _with_datasec(spec, section, btf) for section, (spec, _) in data.items()})
    try:
        return CollectionSpec(maps, programs).check()
    except SpecError as exc:   # a map or program the object describes but no engine would take
        raise ObjectError(f"{obj.path}: {exc}") from None


def _with_datasec(spec: MapSpec, section: str, btf: ObjectBTF | None) -> MapSpec:
    """A global-data map described by its section's DATASEC, as libbpf creates them
    (the kernel then shows the variables in bpftool map dump)."""
    if btf is None:
        return spec
    from pybpf.btf.types import Kind  # (for objects with BTF only, as below)

    datasec = btf.local.find(section, Kind.DATASEC)
    if datasec is None:
        return spec
    return spec.copy(btf=btf.blob, btf_value_type_id=datasec.id)


def _license(obj: ElfObject) -> str:
    section = obj.section("license")
    if section is None:
        return ""
    return section.data.split(b"\0", 1)[0].decode("ascii", "replace")


def btf_maps(obj: ElfObject, object_btf: ObjectBTF | None) -> dict[str, MapSpec]:
    """Maps declared in ``.maps`` (``struct { __uint(type, ...); __type(key, ...); ... }
    name SEC(".maps")``), read from the object's BTF; each carries the BTF and its key
    and value type ids for the kernel."""
    section = obj.section(".maps")
    if section is None or not obj.symbols_in(section.index, "STT_OBJECT"):
        return {}
    if object_btf is None:
        raise ObjectError(f"{obj.path}: section .maps declares maps but the object has no .BTF "
                          "to describe them (compile with -g)")
    from pybpf.btf.types import Kind
    from pybpf.object.elf.btf_maps import map_spec_from_btf

    btf = object_btf.local
    datasec = btf.find(".maps", Kind.DATASEC)
    if datasec is None:
        raise ObjectError(f"{obj.path}: .BTF has no DATASEC .maps describing the maps")
    specs = {}
    for variable in datasec.members:
        var = btf[variable.type]
        try:
            spec = map_spec_from_btf(btf, var.name, var.ref)
            if spec.inner is not None:      # the inner template's type ids are of this BTF too
                spec = spec.copy(inner=spec.inner.copy(btf=object_btf.blob))
            specs[var.name] = spec.copy(btf=object_btf.blob)
        except BTFError as exc:
            raise ObjectError(f"{obj.path}: map {var.name!r}: {exc}") from None
    return specs
