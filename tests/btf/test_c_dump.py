"""BTF → C (vmlinux.h): small BTF round-trips through clang unchanged (layouts, bitfields,
tags), hand-built BTF shows the naming and error rules, and the running kernel's BTF
gives a header that compiles with the ziglang clang and lays every record out as BTF says
— checked against bpftool's header for well-known types."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from btf_layout_asserts import layout_asserts, record_layouts, unique_records

from pybpf.btf import BTF, CDumpError, Kind, Member, Type, dump_c, find_type_ids
from pybpf.object.elf import read_object
from pybpf.toolchain import CompileError, compile_c

VMLINUX = "/sys/kernel/btf/vmlinux"
BPFTOOL = shutil.which("bpftool") or ("/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else None)
WELL_KNOWN = ("task_struct", "sk_buff", "pt_regs", "trace_event_raw_sys_enter", "file", "inode", "mm_struct",
              "sock", "bpf_map", "xdp_buff")

FEATURES = r"""
struct inner { char c; int i; };
struct bits { unsigned a : 3; unsigned b : 5; int c : 12; unsigned long long d : 40; char e; unsigned f : 1; };
struct __attribute__((packed)) packed { char c; int i; short s; };
struct packed_holder { char c; struct packed p; long l; };
struct aligned { char c; int x __attribute__((aligned(16))); char y; };
struct __attribute__((aligned(64))) cacheline { long a; };
struct holder { char head; struct cacheline cl; char tail; };
struct anon { int kind; union { int i; struct { short lo, hi; }; long l; }; struct { char x; int y; } named; };
enum __attribute__((packed)) small { S0, S1 = 200 };
enum big { B0 = 0, B1 = 0xffffffffffULL };
enum neg { N0 = -5, N1 = 7 };
struct small_holder { enum small s; char after; enum big b; enum neg n; };
typedef int (*callback_t)(const char *restrict fmt, ...);
typedef void (*(*getter_t)(int))(long);
struct fwd_only;
struct ptrs {
    const volatile int *cv; int *const cp; int (*arr_ptr)[4]; int matrix[2][3]; callback_t cb; getter_t g;
    struct ptrs *self; int __attribute__((btf_type_tag("user"))) *uptr; struct fwd_only *fwd;
    const char *names[3]; void (*handlers[2])(void);
};
struct tagged { int x __attribute__((btf_decl_tag("member_tag"))); } __attribute__((btf_decl_tag("struct_tag")));
typedef struct tagged tagged_t __attribute__((btf_decl_tag("typedef_tag")));
struct cyc_a; struct cyc_b { struct cyc_a *a; int v; }; struct cyc_a { struct cyc_b b; struct cyc_a *next; };
typedef struct { int anon_typedef_member; } anon_t;
struct empty {};

struct inner g1; struct bits g2; struct packed_holder g3; struct aligned g4; struct holder g5; struct anon g6;
struct small_holder g7; struct ptrs g8; tagged_t g9; struct cyc_a g10; anon_t g11; struct empty g12;
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def object_btf(source: str, **kwargs) -> BTF:
    return BTF.parse(read_object(compile_c(source, **kwargs)).section(".BTF").data)


def compile_with_header(tmp_path, header: str, body: str) -> bytes:
    """Compile ``body`` after ``#include <vmlinux.h>``, the header being ``header``."""
    (tmp_path / "vmlinux.h").write_text(header)
    return compile_c('#include <vmlinux.h>\n' + body, include_dirs=[tmp_path])


def test_round_trip_through_clang_keeps_every_layout(tmp_path):
    original = object_btf(FEATURES)
    header = dump_c(original)
    records = [t.id for t in original.types if t.kind in (Kind.STRUCT, Kind.UNION) and t.name]
    globals_ = "".join(f"{original[i].kind.name.lower()} {original[i].name} v{i};\n" for i in records)
    globals_ += "tagged_t tagged_var;\n"
    again = BTF.parse(read_object(compile_with_header(tmp_path, header, layout_asserts(original, records)
                                                      + globals_)).section(".BTF").data)
    assert record_layouts(again) == record_layouts(original)      # bitfield offsets and widths included
    for text in ("__attribute__((packed))", "__attribute__((mode(byte)))", 'btf_type_tag("user")',
                 'btf_decl_tag("struct_tag")', 'btf_decl_tag("member_tag")', 'btf_decl_tag("typedef_tag")',
                 "int (*arr_ptr)[4];", "int matrix[2][3];", "typedef void (*(*getter_t)(int))(long);",
                 "typedef int (*callback_t)(const char * restrict, ...);", "struct cyc_a;\n",
                 "const volatile int *cv;", "int * const cp;", "void (*handlers[2])(void);",
                 "B1 = 1099511627775ULL,", "N0 = -5,", "struct empty {};"):
        assert text in header.replace("*const", "* const").replace("*restrict", "* restrict"), text
    tags = {t.name for t in again.types if t.kind in (Kind.DECL_TAG, Kind.TYPE_TAG)}
    assert tags >= {"user", "struct_tag", "member_tag", "typedef_tag"}


def test_definitions_come_before_use_and_cycles_use_forward_declarations():
    header = dump_c(object_btf(FEATURES))
    assert header.index("struct cyc_a;") < header.index("struct cyc_b {") < header.index("struct cyc_a {")
    assert header.index("struct inner {") < header.index("struct cacheline {") < header.index("struct holder {")
    assert "struct fwd_only;" in header
    assert header.startswith("#ifndef __VMLINUX_H__") and header.rstrip().endswith("#endif /* __VMLINUX_H__ */")
    assert "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)" in header


def _hand_built() -> BTF:
    """Two structs and two enums sharing names, a typedef colliding with an enumerator,
    a union bigger than its members, and an unused anonymous enum."""
    types = [
        Type(0, Kind.VOID),
        Type(1, Kind.INT, "int", size=4, encoding=1, bits=32),
        Type(2, Kind.STRUCT, "dup", size=4, members=(Member("a", 1, 0),)),
        Type(3, Kind.STRUCT, "dup", size=8, members=(Member("b", 1, 0), Member("c", 1, 32))),
        Type(4, Kind.ENUM, "color", size=4, members=(Member("RED", value=0), Member("BLUE", value=1))),
        Type(5, Kind.ENUM, "shade", size=4, members=(Member("RED", value=5),)),
        Type(6, Kind.TYPEDEF, "BLUE", ref=1),
        Type(7, Kind.UNION, "roomy", size=24, members=(Member("x", 1, 0),)),
        Type(8, Kind.ENUM, "", size=4, members=(Member("LONELY", value=-1),), kind_flag=True),
        Type(9, Kind.ENUM64, "wide", size=8, members=(Member("W", value=1),)),
        Type(10, Kind.STRUCT, "user", size=32, members=(Member("d1", 2, 0), Member("d2", 3, 32),
                                                         Member("r", 7, 128), Member("w", 9, 0))),
    ]
    return BTF(types, b"")


def test_duplicate_names_get_numbered_like_bpftool(tmp_path):
    btf = _hand_built()
    header = dump_c(btf)
    assert "struct dup {\n\tint a;\n};" in header and "struct dup___2 {" in header
    assert "RED___2 = 5," in header and "typedef int BLUE___2;" in header
    assert "enum {\n\tLONELY = -1,\n};" in header                  # unused anonymous enum: still written
    assert "W = 1ULL,\n} __attribute__((mode(word)));" in header   # small values, 8 bytes
    asserts = ('_Static_assert(sizeof(struct dup___2) == 8, "");\n'
               '_Static_assert(sizeof(union roomy) == 24, "");\n'
               '_Static_assert(sizeof(enum wide) == 8, "");\n'
               "int v = RED___2 + LONELY; struct user u;\n")
    assert "struct user {\n\tstruct dup d1;\n\tstruct dup___2 d2;" in header
    compile_with_header(tmp_path, header, asserts)


def test_selected_types_bring_their_dependencies_only():
    btf = _hand_built()
    header = dump_c(btf, find_type_ids(btf, ["roomy"]))
    assert "union roomy {" in header and "dup" not in header and "color" not in header
    assert find_type_ids(btf, ["dup", "7"]) == [2, 3, 7]
    with pytest.raises(CDumpError, match="no type called 'nothing'"):
        find_type_ids(btf, ["nothing"])
    with pytest.raises(CDumpError, match="type id 99 is out of range"):
        find_type_ids(btf, ["99"])


def test_a_record_containing_itself_is_an_error():
    types = [Type(0, Kind.VOID), Type(1, Kind.STRUCT, "loop", size=8, members=(Member("again", 1, 0),))]
    with pytest.raises(CDumpError, match=r"type 1 \(STRUCT loop\) contains itself"):
        dump_c(BTF(types, b""))


# the running kernel ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def kernel():
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} is absent: this kernel has no BTF")
    btf = BTF.load(VMLINUX)
    return btf, dump_c(btf)


def test_kernel_header_compiles_and_every_uniquely_named_record_has_btfs_layout(kernel, tmp_path):
    btf, header = kernel
    ids = unique_records(btf)
    assert len(ids) > 5000
    compile_with_header(tmp_path, header, layout_asserts(btf, ids))


def test_kernel_header_compiles_whole_with_warnings_on(kernel, tmp_path):
    (tmp_path / "vmlinux.h").write_text(kernel[1])
    (tmp_path / "whole.c").write_text('#include "vmlinux.h"\nstruct task_struct *t;\n')
    result = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "bpfel-freestanding-none",
                             "-O2", "-g", "-Wall", "-c", str(tmp_path / "whole.c"), "-o", str(tmp_path / "w.o")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr[:2000]


@pytest.mark.skipif(BPFTOOL is None, reason="needs bpftool as the reference")
def test_kernel_header_agrees_with_bpftool(kernel, tmp_path):
    btf, header = kernel
    theirs = subprocess.run([BPFTOOL, "btf", "dump", "file", VMLINUX, "format", "c"], capture_output=True,
                            text=True, check=True).stdout
    definitions = re.compile(r"^(?:struct|union|enum) (\w+) \{", re.M)
    assert sorted(definitions.findall(header)) == sorted(definitions.findall(theirs))
    typedefs = re.compile(r"^typedef .*?(\w+)(?:\[\d+\])*;$", re.M)
    assert set(typedefs.findall(theirs)) <= set(typedefs.findall(header))
    sample = [btf.find(name, Kind.STRUCT).id for name in WELL_KNOWN]
    asserts = layout_asserts(btf, sample)
    compile_with_header(tmp_path, header, asserts)
    # bpftool before libbpf 1.2 writes 1-byte enums without mode(byte), so C makes them
    # 4 bytes: the records holding one are the only ones allowed to differ from BTF there
    theirs_dir = tmp_path / "bpftool"
    theirs_dir.mkdir()
    try:
        compile_with_header(theirs_dir, theirs, asserts)
        wrong = set()
    except CompileError as exc:
        wrong = {m[1] for d in exc.diagnostics for m in [re.search(r"(?:sizeof|offsetof) (\w+)", d.message)] if m}
    assert wrong <= {btf[i].name for i in sample if _holds_one_byte_enum(btf, i)}
    assert "pt_regs" not in wrong and "trace_event_raw_sys_enter" not in wrong and "sk_buff" not in wrong


def _holds_one_byte_enum(btf: BTF, type_id: int) -> bool:
    t = btf.resolve(type_id)
    while t.kind == Kind.ARRAY:
        t = btf.resolve(t.element)
    if t.kind in (Kind.ENUM, Kind.ENUM64):
        return t.size == 1
    return t.kind in (Kind.STRUCT, Kind.UNION) and any(_holds_one_byte_enum(btf, m.type) for m in t.members)


def test_a_broken_layout_would_be_caught(kernel, tmp_path):
    btf, header = kernel
    task = btf.find("task_struct", Kind.STRUCT)
    with pytest.raises(CompileError, match="sizeof task_struct"):
        compile_with_header(tmp_path, header, f'_Static_assert(sizeof(struct task_struct) == {task.size + 8}, '
                                              '"sizeof task_struct");')
