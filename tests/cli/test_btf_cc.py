"""``pybpf btf dump`` (C header or bpftool's listing, whole or selected types) and
``pybpf cc`` (object written on success; clang's messages as file:line:col and exit 1,
no object, on failure)."""

from __future__ import annotations

import shutil

import pytest

from compiled_btf import btf_file_from_c
from pybpf.cli import main
from pybpf.object.elf import read_object

TYPES = "struct point { int x, y; };\nstruct line { struct point a, b; };\nenum mood { OK = 1 };\n" \
        "typedef unsigned int __u32;\ntypedef unsigned long long __u64;\nstruct line l; enum mood m; __u32 a; __u64 b;\n"


pytestmark = pytest.mark.usefixtures("private_cache")


@pytest.fixture
def btf_file(tmp_path):
    """A raw BTF file holding TYPES."""
    return btf_file_from_c(TYPES, tmp_path)


def test_dump_c_whole_and_selected(btf_file, capsys):
    assert main(["btf", "dump", "--file", str(btf_file)]) == 0
    whole = capsys.readouterr().out
    assert "struct point {\n\tint x;\n\tint y;\n};" in whole and "enum mood {" in whole
    assert main(["btf", "dump", "--file", str(btf_file), "point"]) == 0
    selected = capsys.readouterr().out
    assert "struct point {" in selected and "struct line" not in selected and "mood" not in selected


def test_dump_raw_to_a_file(btf_file, tmp_path):
    out = tmp_path / "raw.txt"
    assert main(["btf", "dump", "--file", str(btf_file), "--format", "raw", "line", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].endswith("STRUCT 'line' size=16 vlen=2") and lines[2].startswith("\t'b' type_id=")


@pytest.mark.parametrize("argv, why", [
    (["btf", "dump", "--file", "{btf}", "nosuch"], "pybpf btf: error: no type called 'nosuch' in this BTF"),
    (["btf", "dump", "--file", "{missing}"], "missing.btf: cannot read: No such file"),
    (["cc", "-D", "9lives", "{prog}"], "pybpf cc: error: -D 9lives: '9lives' is not a macro name"),
    (["cc", "{missing}"], "missing.btf: cannot read: No such file"),
])
def test_errors_are_one_line(btf_file, tmp_path, capsys, argv, why):
    files = {"btf": str(btf_file), "missing": str(tmp_path / "missing.btf"), "prog": str(tmp_path / "p.c")}
    assert main([arg.format(**files) for arg in argv]) == 1
    err = capsys.readouterr().err
    assert why in err and err.count("\n") == 1


def test_cc_writes_the_object(tmp_path, capsys, btf_file, monkeypatch):
    program = tmp_path / "prog.c"
    program.write_text('#include <vmlinux.h>\n#include "extra.h"\n'
                       'int f(struct line *l) { return l->b.y + OK + EXTRA + SCALE; }\n')
    headers = tmp_path / "inc"
    headers.mkdir()
    (headers / "extra.h").write_text("#define EXTRA 3\n")
    monkeypatch.chdir(tmp_path)
    assert main(["cc", str(program), "-I", str(headers), "-D", "SCALE=2", "--btf", str(btf_file)]) == 0
    assert read_object((tmp_path / "prog.o").read_bytes()).section(".BTF") is not None
    assert main(["cc", str(program), "-o", "named.o", "-I", str(headers), "-D", "SCALE",
                 "--btf", str(btf_file)]) == 0
    assert (tmp_path / "named.o").exists() and capsys.readouterr().err == ""


def test_cc_prints_every_diagnostic_and_writes_nothing(tmp_path, capsys):
    program = tmp_path / "bad.c"
    program.write_text("int f(void)\n{\n    int unused;\n    return missing + other;\n}\n")
    out = tmp_path / "bad.o"
    assert main(["cc", str(program), "-o", str(out)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert f"{program}:4:12: error: use of undeclared identifier 'missing'" in lines
    assert f"{program}:4:22: error: use of undeclared identifier 'other'" in lines
    assert not out.exists()


SYSTEM_CLANG = next((path for path in map(shutil.which, ("clang", "clang-18", "clang-16", "clang-15", "clang-14"))
                     if path), None)


@pytest.mark.skipif(SYSTEM_CLANG is None, reason="no system clang")
def test_cc_with_a_system_clang(tmp_path, btf_file):
    program = tmp_path / "prog.c"
    program.write_text("#include <vmlinux.h>\n#include <pybpf/bpf.h>\n"
                       "SEC(\"socket\") int f(struct line *l) { return BPF_CORE_READ(l, b.y); }\n")
    out = tmp_path / "sys.o"
    assert main(["cc", str(program), "-o", str(out), "--clang", SYSTEM_CLANG, "--btf", str(btf_file)]) == 0
    assert read_object(out.read_bytes()).section(".BTF.ext") is not None
