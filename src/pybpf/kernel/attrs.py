"""``union bpf_attr`` and the info structs of include/uapi/linux/bpf.h, as ctypes.

One Structure per command family, with bpf.h's field names. ctypes lays fields out with
the C compiler's natural alignment, which is what the kernel's ``__aligned_u64`` fields
assume, so the offsets match the header (tests check a few against bpftool).
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint8, c_uint32, c_uint64

u32, u64, s32 = c_uint32, c_uint64, c_int32


class MapCreateAttr(ctypes.Structure):
    """BPF_MAP_CREATE."""

    _fields_ = [
        ("map_type", u32), ("key_size", u32), ("value_size", u32), ("max_entries", u32),
        ("map_flags", u32), ("inner_map_fd", u32), ("numa_node", u32),
        ("map_name", c_char * 16), ("map_ifindex", u32), ("btf_fd", u32),
        ("btf_key_type_id", u32), ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32), ("map_extra", u64),
        ("value_type_btf_obj_fd", s32), ("map_token_fd", s32),
    ]


class MapElemAttr(ctypes.Structure):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, BPF_MAP_GET_NEXT_KEY, ..._LOOKUP_AND_DELETE."""

    _fields_ = [("map_fd", u32), ("key", u64), ("value", u64), ("flags", u64)]


class MapBatchAttr(ctypes.Structure):
    """BPF_MAP_*_BATCH."""

    _fields_ = [
        ("in_batch", u64), ("out_batch", u64), ("keys", u64), ("values", u64),
        ("count", u32), ("map_fd", u32), ("elem_flags", u64), ("flags", u64),
    ]


class ProgLoadAttr(ctypes.Structure):
    """BPF_PROG_LOAD."""

    _fields_ = [
        ("prog_type", u32), ("insn_cnt", u32), ("insns", u64), ("license", u64),
        ("log_level", u32), ("log_size", u32), ("log_buf", u64), ("kern_version", u32),
        ("prog_flags", u32), ("prog_name", c_char * 16), ("prog_ifindex", u32),
        ("expected_attach_type", u32), ("prog_btf_fd", u32), ("func_info_rec_size", u32),
        ("func_info", u64), ("func_info_cnt", u32), ("line_info_rec_size", u32),
        ("line_info", u64), ("line_info_cnt", u32), ("attach_btf_id", u32),
        ("attach_prog_fd", u32), ("core_relo_cnt", u32), ("fd_array", u64),
        ("core_relos", u64), ("core_relo_rec_size", u32), ("log_true_size", u32),
        ("prog_token_fd", s32),
    ]


class ObjPinAttr(ctypes.Structure):
    """BPF_OBJ_PIN / BPF_OBJ_GET."""

    _fields_ = [("pathname", u64), ("bpf_fd", u32), ("file_flags", u32), ("path_fd", s32)]


class TestRunAttr(ctypes.Structure):
    """BPF_PROG_TEST_RUN."""

    _fields_ = [
        ("prog_fd", u32), ("retval", u32), ("data_size_in", u32), ("data_size_out", u32),
        ("data_in", u64), ("data_out", u64), ("repeat", u32), ("duration", u32),
        ("ctx_size_in", u32), ("ctx_size_out", u32), ("ctx_in", u64), ("ctx_out", u64),
        ("flags", u32), ("cpu", u32), ("batch_size", u32),
    ]


class IdAttr(ctypes.Structure):
    """BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID (``start_id`` is also prog/map/link_id)."""

    _fields_ = [("start_id", u32), ("next_id", u32), ("open_flags", u32)]


class InfoAttr(ctypes.Structure):
    """BPF_OBJ_GET_INFO_BY_FD."""

    _fields_ = [("bpf_fd", u32), ("info_len", u32), ("info", u64)]


class BtfLoadAttr(ctypes.Structure):
    """BPF_BTF_LOAD."""

    _fields_ = [
        ("btf", u64), ("btf_log_buf", u64), ("btf_size", u32), ("btf_log_size", u32),
        ("btf_log_level", u32), ("btf_log_true_size", u32), ("btf_flags", u32),
        ("btf_token_fd", s32),
    ]


class LinkCreateAttr(ctypes.Structure):
    """BPF_LINK_CREATE; ``extra`` is the per-attach-type union (e.g. a u64 bpf_cookie)."""

    _fields_ = [
        ("prog_fd", u32), ("target_fd", u32), ("attach_type", u32), ("flags", u32),
        ("extra", u64 * 4),
    ]


class FdAttr(ctypes.Structure):
    """A bpf_attr that is one fd: BPF_LINK_DETACH (link_fd), BPF_MAP_FREEZE (map_fd)."""

    _fields_ = [("fd", u32)]


class ProgBindMapAttr(ctypes.Structure):
    """BPF_PROG_BIND_MAP."""

    _fields_ = [("prog_fd", u32), ("map_fd", u32), ("flags", u32)]


class EnableStatsAttr(ctypes.Structure):
    """BPF_ENABLE_STATS."""

    _fields_ = [("type", u32)]


class ProgInfo(ctypes.Structure):
    """struct bpf_prog_info."""

    _fields_ = [
        ("type", u32), ("id", u32), ("tag", c_uint8 * 8), ("jited_prog_len", u32),
        ("xlated_prog_len", u32), ("jited_prog_insns", u64), ("xlated_prog_insns", u64),
        ("load_time", u64), ("created_by_uid", u32), ("nr_map_ids", u32), ("map_ids", u64),
        ("name", c_char * 16), ("ifindex", u32), ("gpl_compatible", u32),
        ("netns_dev", u64), ("netns_ino", u64), ("nr_jited_ksyms", u32),
        ("nr_jited_func_lens", u32), ("jited_ksyms", u64), ("jited_func_lens", u64),
        ("btf_id", u32), ("func_info_rec_size", u32), ("func_info", u64),
        ("nr_func_info", u32), ("nr_line_info", u32), ("line_info", u64),
        ("jited_line_info", u64), ("nr_jited_line_info", u32), ("line_info_rec_size", u32),
        ("jited_line_info_rec_size", u32), ("nr_prog_tags", u32), ("prog_tags", u64),
        ("run_time_ns", u64), ("run_cnt", u64), ("recursion_misses", u64),
        ("verified_insns", u32), ("attach_btf_obj_id", u32), ("attach_btf_id", u32),
    ]


class MapInfo(ctypes.Structure):
    """struct bpf_map_info."""

    _fields_ = [
        ("type", u32), ("id", u32), ("key_size", u32), ("value_size", u32),
        ("max_entries", u32), ("map_flags", u32), ("name", c_char * 16), ("ifindex", u32),
        ("btf_vmlinux_value_type_id", u32), ("netns_dev", u64), ("netns_ino", u64),
        ("btf_id", u32), ("btf_key_type_id", u32), ("btf_value_type_id", u32),
        ("btf_vmlinux_id", u32), ("map_extra", u64),
    ]


class LinkInfo(ctypes.Structure):
    """struct bpf_link_info: the common head and the per-type union as raw words."""

    _fields_ = [("type", u32), ("id", u32), ("prog_id", u32), ("union", u64 * 8)]

