"""BTF as bpftool's listing: every kind's line format, and the running kernel's whole
listing identical to ``bpftool btf dump file``."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pybpf.btf import BTF, Kind, Member, Type, dump_raw

VMLINUX = "/sys/kernel/btf/vmlinux"
BPFTOOL = shutil.which("bpftool") or ("/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else None)


def test_line_format_per_kind():
    types = [
        Type(0, Kind.VOID),
        Type(1, Kind.INT, "int", size=4, encoding=1, bits=32),
        Type(2, Kind.PTR, ref=1),
        Type(3, Kind.STRUCT, "s", size=8, kind_flag=True, members=(Member("a", 1, 0), Member("b", 1, 32, 3))),
        Type(4, Kind.ENUM, "e", size=4, members=(Member("X", value=-1),)),
        Type(5, Kind.ENUM64, "", size=8, kind_flag=True, members=(Member("Y", value=-2),)),
        Type(6, Kind.FWD, "u", kind_flag=True),
        Type(7, Kind.FUNC_PROTO, ref=1, members=(Member("x", 1), Member("", 0))),
        Type(8, Kind.FUNC, "f", ref=7, linkage=1),
        Type(9, Kind.VAR, "v", ref=1, linkage=0),
        Type(10, Kind.DATASEC, ".data", size=4, members=(Member("", 9, 0, size=4),)),
        Type(11, Kind.DECL_TAG, "kfunc", ref=8, component=-1),
        Type(12, Kind.ARRAY, element=1, index_type=1, nelems=3),
    ]
    assert dump_raw(BTF(types, b"")).splitlines() == [
        "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
        "[2] PTR '(anon)' type_id=1",
        "[3] STRUCT 's' size=8 vlen=2",
        "\t'a' type_id=1 bits_offset=0",
        "\t'b' type_id=1 bits_offset=32 bitfield_size=3",
        "[4] ENUM 'e' encoding=UNSIGNED size=4 vlen=1",
        "\t'X' val=4294967295",
        "[5] ENUM64 '(anon)' encoding=SIGNED size=8 vlen=1",
        "\t'Y' val=-2LL",
        "[6] FWD 'u' fwd_kind=union",
        "[7] FUNC_PROTO '(anon)' ret_type_id=1 vlen=2",
        "\t'x' type_id=1",
        "\t'(anon)' type_id=0",
        "[8] FUNC 'f' type_id=7 linkage=global",
        "[9] VAR 'v' type_id=1, linkage=static",
        "[10] DATASEC '.data' size=4 vlen=1",
        "\ttype_id=9 offset=0 size=4 (VAR 'v')",
        "[11] DECL_TAG 'kfunc' type_id=8 component_idx=-1",
        "[12] ARRAY '(anon)' type_id=1 index_type_id=1 nr_elems=3",
    ]
    assert dump_raw(BTF(types, b""), [6]) == "[6] FWD 'u' fwd_kind=union\n"


@pytest.mark.skipif(BPFTOOL is None or not os.path.exists(VMLINUX), reason="needs bpftool and kernel BTF")
def test_kernel_listing_is_bpftools():
    theirs = subprocess.run([BPFTOOL, "btf", "dump", "file", VMLINUX], capture_output=True, text=True,
                            check=True).stdout
    ours = dump_raw(BTF.load(VMLINUX))
    assert ours.count("\n") == theirs.count("\n")
    mismatches = [(a, b) for a, b in zip(ours.splitlines(), theirs.splitlines()) if a != b]
    assert mismatches[:5] == []
