"""Symbol lookup: tables, kallsyms, ELF files (incl. MiniDebugInfo), process maps,
perf maps, and the ld.so cache — checked against this machine's real files."""

from __future__ import annotations

import ctypes
import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pybpf.symbols import (
    ElfSymbols,
    KernelSymbols,
    Location,
    SymbolError,
    Symbolizer,
    SymbolTable,
    find_library,
    mapping_at,
    parse_maps,
    read_perf_map,
)


def test_table_sized_and_unsized_symbols():
    table = SymbolTable([(0x1000, 0x10, "a"), (0x2000, 0, "b"), (0x3000, 0, "c"), (0x1000, 8, "alias")])
    assert table.find(0x1000) == ("a", 0)            # first alias given wins
    assert table.find(0x100F) == ("a", 0xF)
    assert table.find(0x1010) is None                  # past a sized symbol's end
    assert table.find(0x2FFF) == ("b", 0xFFF)          # unsized: up to the next symbol
    assert table.find(0x3000 + 4095) == ("c", 4095)    # the last one covers a page
    assert table.find(0x3000 + 4096) is None
    assert table.find(0xFFF) is None
    assert table.address("alias") == 0x1000 and table.address("nope") is None


def test_location_text():
    assert str(Location("f", 0x10, "/lib/x.so")) == "f+0x10 [/lib/x.so]"
    assert str(Location("f", 0, None)) == "f"
    assert str(Location(None, 0xABC, "[heap]")) == "0xabc [[heap]]"


def test_kallsyms_from_file(tmp_path):
    path = tmp_path / "kallsyms"
    path.write_text(
        "ffffffff81000000 T _text\n"
        "ffffffff81000100 t helper\n"
        "ffffffff81000200 D some_data\n"
        "ffffffffc0000000 t mod_fn\t[mymod]\n"
    )
    ks = KernelSymbols.load(path)
    assert str(ks.locate(0xFFFFFFFF81000104)) == "helper+0x4 [kernel]"
    # data symbols do not end a function: helper reaches to the next code symbol
    assert ks.locate(0xFFFFFFFF81000204).name == "helper"
    assert str(ks.locate(0xFFFFFFFFC0000010)) == "mod_fn+0x10 [mymod]"
    assert ks.locate(0x1000).name is None
    assert ks.address("mod_fn") == 0xFFFFFFFFC0000000


def test_kallsyms_hidden_addresses_are_an_error(tmp_path):
    path = tmp_path / "kallsyms"
    path.write_text("0000000000000000 T _text\n0000000000000000 T do_fork\n")
    with pytest.raises(SymbolError, match="kptr_restrict"):
        KernelSymbols.load(path)


@pytest.mark.parametrize("text, where", [("zzzz T x\n", ":1: bad address"), ("ffff T\n", ":1: expected")])
def test_kallsyms_bad_lines(tmp_path, text, where):
    path = tmp_path / "kallsyms"
    path.write_text(text)
    with pytest.raises(SymbolError, match=where):
        KernelSymbols.load(path)


def test_real_kallsyms():
    try:
        ks = KernelSymbols.load()
    except SymbolError as exc:
        pytest.skip(f"kernel symbols not readable here: {exc}")
    address = ks.address("do_sys_openat2")
    if address is None:
        pytest.skip("this kernel has no do_sys_openat2")
    assert ks.locate(address + 7) == Location("do_sys_openat2", 7, "kernel")


def _address_of(function) -> int:
    return ctypes.cast(function, ctypes.c_void_p).value


def test_symbolize_this_process_libc():
    libc = ctypes.CDLL(find_library("c"))
    location = Symbolizer().user(os.getpid(), _address_of(libc.getpid) + 2)
    assert (location.name, location.offset) == ("getpid", 2)
    assert Path(location.module).name.startswith("libc.so")


def test_symbolize_this_process_python_api():
    location = Symbolizer().user(os.getpid(), _address_of(ctypes.pythonapi.PyList_New))
    assert (location.name, location.offset) == ("PyList_New", 0)


def test_unknown_and_exited_process_frames_are_bare_addresses():
    symbolizer = Symbolizer()
    assert symbolizer.user(os.getpid(), 8) == Location(None, 8, None)
    child = subprocess.Popen(["true"])
    child.wait()
    assert symbolizer.user(child.pid, 0x401000) == Location(None, 0x401000, None)


def test_elf_offsets_and_symbols_of_libc():
    elf = ElfSymbols(find_library("c"))
    vaddr = elf.address("malloc")
    assert vaddr is not None and elf.find(vaddr) == ("malloc", 0)
    offset = elf.offset_of_vaddr(vaddr)
    assert elf.vaddr_of_offset(offset) == vaddr


IFUNC_LIBRARY = r"""
#include <stdlib.h>
int impl_one(int x) { return x + 1; }
int impl_two(int x) { return x + 2; }
/* the dynamic loader's choice depends on the environment the library is loaded in */
static void *pick(void) { return getenv("PYBPF_IFUNC_PICK") ? (void *)impl_two : (void *)impl_one; }
int chosen(int x) __attribute__((ifunc("pick")));
"""


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
@pytest.mark.parametrize("pick, expected", [("", "impl_one"), ("1", "impl_two")])
def test_ifunc_symbols_call_address_is_the_loaders_choice(tmp_path, monkeypatch, pick, expected):
    src, lib = tmp_path / "ifunc.c", tmp_path / f"libifunc{pick}.so"
    src.write_text(IFUNC_LIBRARY)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", lib, src], check=True)
    if pick:
        monkeypatch.setenv("PYBPF_IFUNC_PICK", pick)
    elf = ElfSymbols(lib)
    assert elf.address("chosen") is not None and elf.address("chosen") != elf.address(expected)
    assert elf.call_address("chosen") == elf.address(expected)
    assert elf.call_address("impl_one") == elf.address("impl_one")   # not an IFUNC: its own address


def test_libc_strlen_is_called_at_the_implementation_this_process_uses():
    elf = ElfSymbols(find_library("c"))
    libc = ctypes.CDLL(find_library("c"))
    link_map = ctypes.c_void_p()
    assert ctypes.CDLL(None).dlinfo(ctypes.c_void_p(libc._handle), 2, ctypes.byref(link_map)) == 0
    base = ctypes.c_size_t.from_address(link_map.value).value
    here = ctypes.cast(libc.strlen, ctypes.c_void_p).value - base
    assert elf.call_address("strlen") == here != elf.address("strlen")


def test_ifunc_of_a_library_the_loader_refuses(tmp_path):
    from pybpf.symbols.ifunc import ifunc_implementation

    junk = tmp_path / "libjunk.so"
    junk.write_bytes(b"not an elf")
    with pytest.raises(SymbolError, match="dynamic loader could not load it in a helper process"):
        ifunc_implementation(str(junk), "f", ["f"])


def test_elf_errors(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"not an elf at all")
    with pytest.raises(SymbolError, match="junk: not a valid ELF"):
        ElfSymbols(junk)
    with pytest.raises(SymbolError, match="cannot read"):
        ElfSymbols(tmp_path / "missing")


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("objcopy")), reason="needs gcc and objcopy")
def test_minidebuginfo_names_functions_of_a_stripped_binary(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text("static int __attribute__((noinline)) secret_fn(int x) { return x * 3; }\n"
                   "int main(int c, char **v) { return secret_fn(c); }\n")
    full, stripped = tmp_path / "full", tmp_path / "stripped"
    subprocess.run(["gcc", "-O1", "-o", full, src], check=True)
    expected = ElfSymbols(full).address("secret_fn")
    assert expected is not None
    # what distributions do: keep only the symbol table, xz it, embed it in the stripped file
    symtab_only = tmp_path / "symtab_only"
    subprocess.run(["objcopy", "--only-keep-debug", "--remove-section=.debug*", full, symtab_only], check=True)
    xz = tmp_path / "mini.xz"
    xz.write_bytes(lzma.compress(symtab_only.read_bytes()))
    subprocess.run(["strip", "-o", stripped, full], check=True)
    assert ElfSymbols(stripped).address("secret_fn") is None
    subprocess.run(["objcopy", "--add-section", f".gnu_debugdata={xz}", stripped], check=True)
    assert ElfSymbols(stripped).find(expected + 1) == ("secret_fn", 1)


def test_maps_parsing_and_lookup():
    maps = parse_maps(
        "7f0000001000-7f0000002000 r-xp 00001000 fd:01 42   /usr/lib/libx.so\n"
        "7f0000000000-7f0000001000 r--p 00000000 fd:01 42   /usr/lib/libx.so\n"
        "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0    [stack]\n"
        "7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0\n"
    )
    assert [m.start for m in maps] == sorted(m.start for m in maps)
    hit = mapping_at(maps, 0x7F0000001234)
    assert hit.path == "/usr/lib/libx.so" and hit.offset == 0x1000 and hit.is_file
    assert not mapping_at(maps, 0x7FFC00000010).is_file
    assert mapping_at(maps, 0x7FFD00000000).path == ""
    assert mapping_at(maps, 0x10) is None
    with pytest.raises(SymbolError, match="maps:1: not a maps line"):
        parse_maps("garbage\n")


def test_perf_map(tmp_path):
    path = tmp_path / "perf-1.map"
    path.write_text("7f00aa000000 40 py::f:/x.py\n7f00aa000040 20 js LazyCompile name with spaces\n")
    table = read_perf_map(path)
    assert table.find(0x7F00AA000010) == ("py::f:/x.py", 0x10)
    assert table.find(0x7F00AA000041) == ("js LazyCompile name with spaces", 1)
    assert table.find(0x7F00AA000060) is None
    path.write_text("xyz\n")
    with pytest.raises(SymbolError, match="perf-1.map:1: expected"):
        read_perf_map(path)


def test_find_library_forms(tmp_path):
    libc = find_library("c")
    assert Path(libc).name.startswith("libc.so") and Path(libc).exists()
    assert find_library("libc") == libc
    assert find_library(Path(libc).name) == libc
    assert find_library(libc) == libc
    with pytest.raises(SymbolError, match="'nosuchlib_pybpf' not found"):
        find_library("nosuchlib_pybpf")
    with pytest.raises(SymbolError, match="no such file"):
        find_library(str(tmp_path / "libnope.so"))
    bad = tmp_path / "ld.so.cache"
    bad.write_bytes(b"garbage")
    with pytest.raises(SymbolError, match="not a glibc ld.so cache"):
        find_library("c", cache=bad)
