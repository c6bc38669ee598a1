"""Compiling C with the clang in the ziglang wheel: objects the loader reads, errors with
file/line/column, and the cache (a second compile runs no compiler)."""

from __future__ import annotations

import pytest

from pybpf.object.elf import load_object
from pybpf.toolchain import CompileError, compile_c, include_dir
from pybpf.toolchain import compile as compile_module

PROGRAM = r"""
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } hits SEC(".maps");
SEC("socket") int count(struct __sk_buff *skb)
{
    u32 zero = 0;
    u64 *n = bpf_map_lookup_elem(&hits, &zero);
    if (n)
        __sync_fetch_and_add(n, skb->len);
    return 0;
}
LICENSE("GPL");
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_compiles_with_the_shipped_header_and_runs_on_the_vm():
    from pybpf.engine import load

    spec = load_object(compile_c(PROGRAM), name="count")
    assert (include_dir() / "pybpf" / "bpf.h").exists()
    with load(spec, engine="vm") as coll:
        coll.programs["count"].test_run(bytes(64))
        assert coll.maps["hits"][0] == 64 - 14      # skb->len of a socket filter: past the Ethernet header


def test_errors_name_file_line_and_column(tmp_path):
    source = tmp_path / "broken.c"
    source.write_text("#include <pybpf/bpf.h>\nint f(void)\n{\n    return missing;\n}\n")
    with pytest.raises(CompileError) as caught:
        compile_c(source)
    error = caught.value
    assert (error.file, error.line, error.column) == (str(source), 4, 12)
    assert "undeclared identifier 'missing'" in str(error)


def test_second_compile_comes_from_the_cache(monkeypatch, tmp_path):
    first = compile_c(PROGRAM, output=tmp_path / "out.o")
    assert (tmp_path / "out.o").read_bytes() == first

    def no_compiler(*args, **kwargs):
        raise AssertionError("the compiler ran again")

    monkeypatch.setattr(compile_module.subprocess, "run", no_compiler)
    assert compile_c(PROGRAM) == first
    with pytest.raises(AssertionError, match="ran again"):
        compile_c(PROGRAM, defines={"CHANGED": 1})


def test_a_source_file_that_is_not_utf8_is_one_error(tmp_path):
    source = tmp_path / "latin1.c"
    source.write_bytes(b"/* caf\xe9 */ int x;\n")
    with pytest.raises(CompileError, match=r"latin1\.c: byte 6: C source must be UTF-8 text"):
        compile_c(source)
