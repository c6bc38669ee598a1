"""The maps a BPF object declares: legacy ``maps`` section definitions, and the array
maps that hold its global variables (``.data``, ``.rodata``, ``.bss`` and their
``.data.*``/``.rodata.*`` variants), named as libbpf names them so that tools that
look maps up by name (bpftool, our CLI) see the same names.
"""

from __future__ import annotations

import re
import struct

from pybpf.object.elf.externs import KCONFIG, Externs, kconfig_contents
from pybpf.object.elf.reader import ElfObject, ObjectError, Section
from pybpf.object.kinds import MapFlag, MapType
from pybpf.object.maps import NAME_LEN, MapSpec

#: struct bpf_map_def: type, key_size, value_size, max_entries, map_flags (then optional
#: inner_map_idx and numa_node, which this loader does not need)
_LEGACY_DEF = struct.Struct("<5I")
#: the largest value an array map takes (KMALLOC_MAX_SIZE with 4 KiB pages): a larger
#: .bss (which takes no room in the file, so any size can be written) is refused here
#: rather than allocated
MAX_DATA_SECTION = 4 << 20
_DATA_SECTION = re.compile(r"^\.(data|rodata|bss)(\..+)?$")


def is_data_section(name: str) -> bool:
    """True for the sections whose variables live in array maps."""
    return bool(_DATA_SECTION.match(name))


def legacy_maps(obj: ElfObject) -> dict[str, MapSpec]:
    """Maps defined as ``struct bpf_map_def`` values in the ``maps`` section."""
    section = obj.section("maps")
    if section is None:
        return {}
    specs = {}
    for sym in obj.symbols_in(section.index, "STT_OBJECT") or obj.symbols_in(section.index):
        if sym.type == "STT_SECTION":
            continue
        end = sym.value + _LEGACY_DEF.size
        if end > len(section.data):
            raise ObjectError(f"{obj.path}: map {sym.name!r} in section maps is truncated "
                              f"({len(section.data) - sym.value} of {_LEGACY_DEF.size} bytes)")
        kind, key_size, value_size, max_entries, flags = _LEGACY_DEF.unpack_from(section.data, sym.value)
        try:
            map_type = MapType(kind)
        except ValueError:
            raise ObjectError(f"{obj.path}: map {sym.name!r} has unknown map type {kind}") from None
        specs[sym.name] = MapSpec(sym.name, map_type, key_size, value_size, max_entries, flags)
    return specs


def data_map_name(object_name: str, section: str) -> str:
    """libbpf's name for a data section's map: as much of the object's name as fits
    (at most 8 characters) followed by the section name, within the kernel's 15."""
    prefix_len = max(0, min(NAME_LEN - 1 - len(section), 8))
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", object_name)[:prefix_len]
    return (prefix + section)[:NAME_LEN - 1]


def data_maps(obj: ElfObject, object_name: str, used: set[str]) -> dict[str, tuple[MapSpec, Section | None]]:
    """One single-element array map per data section that any program uses, keyed by the
    section name: value size = section size, contents = the section's bytes (zeros for
    .bss), read-only for programs and frozen after loading for .rodata."""
    out: dict[str, tuple[MapSpec, Section | None]] = {}
    for name in sorted(used):
        section = obj.section(name)
        if section is None:
            raise ObjectError(f"{obj.path}: programs refer to data section {name!r}, which is absent")
        if section.size > MAX_DATA_SECTION:
            raise ObjectError(f"{obj.path}: data section {name!r} is {section.size} bytes; the array map that "
                              f"holds it can have values of at most {MAX_DATA_SECTION} bytes")
        readonly = name.startswith(".rodata")
        contents = section.data if section.type != "SHT_NOBITS" else bytes(section.size)
        spec = MapSpec(
            data_map_name(object_name, name), MapType.ARRAY, 4, max(section.size, 1), 1,
            flags=MapFlag.RDONLY_PROG if readonly else 0,
            contents=contents.ljust(max(section.size, 1), b"\0"), freeze=readonly,
        )
        out[name] = (spec, section)
    return out


def kconfig_map(object_name: str, externs: Externs, where: str) -> MapSpec:
    """The map libbpf makes for an object's __kconfig externs: one element holding each
    variable's value on the running kernel, read-only for programs and frozen."""
    size = max(externs.kconfig_size, 1)
    return MapSpec(data_map_name(object_name, KCONFIG), MapType.ARRAY, 4, size, 1, flags=MapFlag.RDONLY_PROG,
                   contents=kconfig_contents(externs, where), freeze=True)
