"""``#include <vmlinux.h>`` in compile_c: the header generated from BTF once and cached by
kernel build id (or BTF hash), found when a program's own header includes it, overridden by
a program's own vmlinux.h; the object cache re-checks the program's headers; diagnostics."""

from __future__ import annotations

import struct

import pytest

from compiled_btf import btf_file_from_c
from pybpf.btf import BTF, Kind, c_dump
from pybpf.object.elf import read_object
from pybpf.toolchain import CompileError, compile_c, compile_object, kernel_build_id, vmlinux_include_dir
from pybpf.toolchain import vmlinux as vmlinux_module

TYPES = r"""
struct point { int x, y; };
struct shape { struct point corners[4]; unsigned flags : 3; const char *name; };
enum mood { HAPPY = 1, SAD = 2 };
typedef unsigned int __u32;
typedef unsigned long long __u64;
struct shape s; enum mood m; __u32 u32; __u64 u64;
"""

USES_VMLINUX = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
SEC("socket") int prog(void *ctx) {
    struct shape *shape = ctx;
    return BPF_CORE_READ(shape, corners[2].y) + SAD;
}
LICENSE("GPL");
"""


pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture
def btf_file(tmp_path):
    """A raw BTF file holding TYPES."""
    return btf_file_from_c(TYPES, tmp_path)


def _note(name: bytes, note_type: int, desc: bytes) -> bytes:
    pad = lambda b: b + bytes(-len(b) % 4)      # noqa: E731
    return struct.pack("<III", len(name), len(desc), note_type) + pad(name) + pad(desc)


def test_build_id_from_the_kernel_notes(tmp_path):
    notes = tmp_path / "notes"
    notes.write_bytes(_note(b"Xen\0", 18, b"\1\2") + _note(b"GNU\0", 3, bytes.fromhex("24a3598fd7")))
    assert kernel_build_id(notes) == "24a3598fd7"
    notes.write_bytes(_note(b"Linux\0", 6, b"\0\0\0\0"))
    assert kernel_build_id(notes) is None
    notes.write_bytes(_note(b"GNU\0", 3, b"\xaa" * 20)[:20])      # truncated
    assert kernel_build_id(notes) is None
    assert kernel_build_id(tmp_path / "missing") is None


def test_header_is_generated_once_per_btf(btf_file, tmp_path, monkeypatch):
    first = vmlinux_include_dir(btf_file)
    assert (first / "vmlinux.h").read_text().startswith("#ifndef __VMLINUX_H__")

    def no_dump(*args):
        raise AssertionError("generated again")

    monkeypatch.setattr(c_dump, "dump_c", no_dump)
    assert vmlinux_include_dir(btf_file) == first
    other = tmp_path / "other.btf"
    other.write_bytes(read_object(compile_c("struct other { long z; } o;\n")).section(".BTF").data)
    with pytest.raises(AssertionError, match="generated again"):
        vmlinux_include_dir(other)


def test_a_damaged_header_is_generated_again(btf_file):
    first = vmlinux_include_dir(btf_file)
    (first / "vmlinux.h").write_text("struct not_what_was_generated;\n")
    again = vmlinux_include_dir(btf_file)
    assert (again / "vmlinux.h").read_text().startswith("#ifndef __VMLINUX_H__")


def test_with_the_cache_off_the_header_is_made_once_per_process(btf_file, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", "off")
    monkeypatch.setattr(vmlinux_module, "_temporary_dirs", {})
    first = vmlinux_include_dir(btf_file)
    assert (first / "vmlinux.h").read_text().startswith("#ifndef __VMLINUX_H__")
    monkeypatch.setattr(c_dump, "dump_c", lambda *args: pytest.fail("generated again"))
    assert vmlinux_include_dir(btf_file) == first
    assert str(first) in vmlinux_module.generated_dirs()


def test_running_kernel_is_keyed_by_build_id(monkeypatch, tmp_path):
    btf = tmp_path / "kernel.btf"
    btf.write_bytes(read_object(compile_c(TYPES)).section(".BTF").data)
    monkeypatch.setattr(vmlinux_module, "KERNEL_BTF", str(btf))
    monkeypatch.setattr(vmlinux_module, "kernel_build_id", lambda: "feedface")
    directory = vmlinux_module.vmlinux_include_dir(str(btf))
    assert directory.name.startswith("feedface-")


def test_unreadable_btf_is_an_error(tmp_path):
    with pytest.raises(c_dump.CDumpError, match="missing.btf: cannot read"):
        vmlinux_include_dir(tmp_path / "missing.btf")


def test_program_includes_vmlinux_h(btf_file):
    obj = read_object(compile_c(USES_VMLINUX, vmlinux_btf=btf_file))
    btf = BTF.parse(obj.section(".BTF").data)
    assert btf.find("shape", Kind.STRUCT).size == 48
    assert obj.section(".BTF.ext") is not None


def test_vmlinux_h_reached_through_the_programs_own_header(btf_file, tmp_path):
    (tmp_path / "common.h").write_text("#include <vmlinux.h>\n")
    program = tmp_path / "prog.c"
    program.write_text('#include "common.h"\nint f(struct point *p) { return p->y + HAPPY; }\n')
    compile_c(program, vmlinux_btf=btf_file)


def test_programs_own_vmlinux_h_wins(btf_file, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "vmlinux.h").write_text("struct mine { int only_here; };\n")
    compile_c("#include <vmlinux.h>\nint f(struct mine *m) { return m->only_here; }\n", include_dirs=[own],
              vmlinux_btf=btf_file)


def test_cache_rechecks_the_programs_headers(tmp_path, monkeypatch):
    header = tmp_path / "value.h"
    header.write_text("#define VALUE 1\n")
    program = tmp_path / "prog.c"
    program.write_text('#include "value.h"\nint f(void) { return VALUE; }\n')
    first = compile_object(program)
    assert not first.cached and compile_object(program).cached
    header.write_text("#define VALUE 2\n")
    second = compile_object(program)
    assert not second.cached and second.data != first.data


def test_warnings_come_back_even_from_the_cache(tmp_path):
    program = tmp_path / "warn.c"
    program.write_text("int f(int x) {\n    int unused;\n    return x;\n}\n")
    result = compile_object(program, cflags=["-Wall"])
    again = compile_object(program, cflags=["-Wall"])
    assert again.cached and again.diagnostics == result.diagnostics
    warning = result.diagnostics[0]
    assert (warning.file, warning.line, warning.column, warning.level) == (str(program), 2, 9, "warning")
    assert str(warning).startswith(f"{program}:2:9: warning: unused variable 'unused'")


def test_every_error_is_kept(tmp_path):
    program = tmp_path / "two.c"
    program.write_text("int f(void)\n{\n    return a + b;\n}\n")
    with pytest.raises(CompileError, match=r"two.c:3:12: use of undeclared identifier 'a' \(and 1 more errors\)") \
            as caught:
        compile_c(program)
    errors = [(d.line, d.column, d.message) for d in caught.value.diagnostics if d.level == "error"]
    assert errors == [(3, 12, "use of undeclared identifier 'a'"), (3, 16, "use of undeclared identifier 'b'")]


def test_missing_vmlinux_h_without_btf_is_an_error(tmp_path):
    with pytest.raises(c_dump.CDumpError, match="nope.btf: cannot read: No such file"):
        compile_c("#include <vmlinux.h>\n", vmlinux_btf=tmp_path / "nope.btf")
