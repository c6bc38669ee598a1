"""What the kernel says about loaded objects: ids, and bpf_{prog,map,link}_info by fd.

The loaded-object listings (``pybpf prog list``, ``pybpf map list``) walk ids with
BPF_*_GET_NEXT_ID, open each with BPF_*_GET_FD_BY_ID and read its info; an object that
disappears between the two steps is skipped, as bpftool does.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator

from pybpf.errors import BPFError
from pybpf.kernel import attrs
from pybpf.kernel.syscall import Command, bpf
from pybpf.object.kinds import MapType, ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (``pybpf prog list``'s start-up)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from pybpf.object.maps import MapSpec

    Info = TypeVar("Info", attrs.ProgInfo, attrs.MapInfo, attrs.LinkInfo)

_KINDS = {
    "prog": (Command.PROG_GET_NEXT_ID, Command.PROG_GET_FD_BY_ID),
    "map": (Command.MAP_GET_NEXT_ID, Command.MAP_GET_FD_BY_ID),
    "link": (Command.LINK_GET_NEXT_ID, Command.LINK_GET_FD_BY_ID),
    "btf": (Command.BTF_GET_NEXT_ID, Command.BTF_GET_FD_BY_ID),
}


def object_info(fd: int, info: Info) -> Info:
    """Fill ``info`` (a zeroed info struct, with any pointers it should follow set)."""
    attr = attrs.InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    bpf(Command.OBJ_GET_INFO_BY_FD, attr, f"fd {fd}")
    return info


def map_info(fd: int) -> attrs.MapInfo:
    """struct bpf_map_info of the map ``fd``."""
    return object_info(fd, attrs.MapInfo())


def prog_info(fd: int) -> attrs.ProgInfo:
    """struct bpf_prog_info of the program ``fd`` (counts only, no arrays)."""
    return object_info(fd, attrs.ProgInfo())


def link_info(fd: int) -> attrs.LinkInfo:
    """struct bpf_link_info of the link ``fd``."""
    return object_info(fd, attrs.LinkInfo())


def prog_xlated(fd: int) -> bytes:
    """The program's instructions as the kernel holds them after verification."""
    size = prog_info(fd).xlated_prog_len
    buf = ctypes.create_string_buffer(size)
    object_info(fd, attrs.ProgInfo(xlated_prog_len=size, xlated_prog_insns=ctypes.addressof(buf)))
    return buf.raw


def prog_map_ids(fd: int) -> list[int]:
    """Ids of the maps the program uses."""
    count = prog_info(fd).nr_map_ids
    ids = (ctypes.c_uint32 * count)()
    object_info(fd, attrs.ProgInfo(nr_map_ids=count, map_ids=ctypes.addressof(ids)))
    return list(ids)


def ids(kind: str) -> Iterator[int]:
    """Every loaded ``kind`` ("prog", "map", "link", "btf") id, ascending."""
    next_cmd = _KINDS[kind][0]
    attr = attrs.IdAttr()
    while True:
        try:
            bpf(next_cmd, attr)
        except BPFError as exc:
            if exc.errno == errno.ENOENT:
                return
            raise
        yield attr.next_id
        attr.start_id = attr.next_id


def fd_by_id(kind: str, object_id: int) -> int:
    """A new fd for the ``kind`` object with ``object_id`` (BPFError ENOENT when gone)."""
    return bpf(_KINDS[kind][1], attrs.IdAttr(start_id=object_id), f"{kind} id {object_id}")


def spec_of_info(info: attrs.MapInfo, key_type: Any = None, value_type: Any = None) -> MapSpec:
    """A MapSpec describing an existing map (for maps opened by pin or id)."""
    from pybpf.object.maps import MapSpec

    try:
        kind = MapType(info.type)
    except ValueError:
        raise BPFError("BPF_OBJ_GET_INFO_BY_FD", errno.EOPNOTSUPP,
                       f"map type {info.type} is newer than pybpf", f"map id {info.id}") from None
    return MapSpec(name=info.name.decode(errors="replace"), type=kind,
                   key_size=info.key_size, value_size=info.value_size,
                   max_entries=info.max_entries, flags=info.map_flags, extra=info.map_extra,
                   key_type=key_type, value_type=value_type)


def tag_hex(info: attrs.ProgInfo) -> str:
    """The program tag as bpftool prints it (16 hex digits)."""
    return bytes(info.tag).hex()


def _type_name(enum_type: type, value: int) -> str | int:
    try:
        return str(enum_type(value))
    except ValueError:
        return value


def describe_prog(fd: int) -> dict[str, Any]:
    """The program behind ``fd`` as a JSON-ready dict, with bpftool's field names."""
    info = prog_info(fd)
    return {
        "id": info.id, "type": _type_name(ProgramType, info.type),
        "name": info.name.decode(errors="replace"), "tag": tag_hex(info),
        "gpl_compatible": bool(info.gpl_compatible & 1),
        "run_time_ns": info.run_time_ns, "run_cnt": info.run_cnt,
        "bytes_xlated": info.xlated_prog_len, "jited": info.jited_prog_len > 0,
        "bytes_jited": info.jited_prog_len, "map_ids": prog_map_ids(fd),
        "uid": info.created_by_uid, "verified_insns": info.verified_insns,
        "btf_id": info.btf_id,
    }


def describe_map(fd: int) -> dict[str, Any]:
    """The map behind ``fd`` as a JSON-ready dict, with bpftool's field names."""
    info = map_info(fd)
    return {
        "id": info.id, "type": _type_name(MapType, info.type),
        "name": info.name.decode(errors="replace"), "flags": info.map_flags,
        "bytes_key": info.key_size, "bytes_value": info.value_size,
        "max_entries": info.max_entries, "map_extra": info.map_extra, "btf_id": info.btf_id,
    }


def describe_all(kind: str) -> list[dict[str, Any]]:
    """describe_prog/describe_map for every loaded program or map, by ascending id."""
    describe = {"prog": describe_prog, "map": describe_map}[kind]
    out = []
    for object_id in ids(kind):
        try:
            fd = fd_by_id(kind, object_id)
        except BPFError as exc:
            if exc.errno == errno.ENOENT:
                continue  # unloaded between the two calls
            raise
        try:
            out.append(describe(fd))
        finally:
            os.close(fd)
    return out
