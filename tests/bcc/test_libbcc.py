"""``bcc.libbcc.lib.bcc_resolve_symname`` (as BCC scripts call it through ctypes) against
binutils' ``readelf``: the symbol's address in libc, of the types the option allows,
turned into a file offset through the loadable segment that holds it."""

from __future__ import annotations

import ctypes as ct
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pybpf

sys.path.insert(0, str(Path(pybpf.__file__).parent / "bcc" / "compat"))
from bcc.libbcc import bcc_symbol, bcc_symbol_option, lib  # noqa: E402  (as python -m pybpf.bcc serves it)

from pybpf.symbols import SymbolError, find_library  # noqa: E402
from pybpf.symbols.procmaps import read_maps  # noqa: E402

STT_FUNC, STT_GNU_IFUNC = 2, 10

pytestmark = pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")


@pytest.fixture(scope="module")
def libc():
    try:
        return find_library("c")
    except SymbolError as exc:
        pytest.skip(f"no libc in the ld.so cache: {exc}")


def _readelf(path: str) -> tuple[dict[str, tuple[int, str]], list[tuple[int, int, int]]]:
    """{name: (value, type)} of the defined dynamic symbols, and the PT_LOAD segments
    (vaddr, file offset, memory size)."""
    symbols = {}
    for line in subprocess.run(["readelf", "-W", "--dyn-syms", path], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0][:-1].isdigit() and fields[6] != "UND" and int(fields[1], 16):
            symbols.setdefault(fields[7].split("@")[0], (int(fields[1], 16), fields[3]))
    segments = [(int(m[2], 16), int(m[1], 16), int(m[3], 16)) for m in re.finditer(
        r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)",
        subprocess.run(["readelf", "-W", "-l", path], capture_output=True, text=True, check=True).stdout, re.M)]
    return symbols, segments


def _offset(address: int, segments: list[tuple[int, int, int]]) -> int:
    return next(address - vaddr + offset for vaddr, offset, size in segments if vaddr <= address < vaddr + size)


def _resolve(module: bytes, name: bytes | None, types: int | None = None, addr: int = 0, pid: int = 0):
    sym = bcc_symbol()
    option = None
    if types is not None:
        option = bcc_symbol_option()
        option.use_debug_file, option.check_debug_file_crc, option.lazy_symbolize = 1, 1, 1
        option.use_symbol_type = types
    result = lib.bcc_resolve_symname(module, name, addr, pid, ct.byref(option) if option else None, ct.byref(sym))
    return result, sym


def test_an_ifunc_resolves_to_its_resolver_only_when_the_option_allows_ifuncs(libc):
    symbols, segments = _readelf(libc)
    ifuncs = [name for name, (_, kind) in symbols.items() if kind == "IFUNC"]
    functions = [name for name, (_, kind) in symbols.items() if kind == "FUNC"]
    if not ifuncs:
        pytest.skip("this libc has no IFUNC symbols")
    for name in ifuncs[:5]:
        result, sym = _resolve(b"c", name.encode(), 1 << STT_GNU_IFUNC)
        assert result == 0 and sym.name == name.encode()
        assert ct.cast(sym.module, ct.c_char_p).value == libc.encode()
        assert sym.offset == _offset(symbols[name][0], segments)
        assert _resolve(b"c", name.encode(), 1 << STT_FUNC)[0] == -1        # not a plain function
    for name in functions[:5]:
        result, sym = _resolve(b"c", name.encode())                          # no option: every type
        assert result == 0 and sym.offset == _offset(symbols[name][0], segments)
        assert _resolve(b"c", name.encode(), 1 << STT_GNU_IFUNC)[0] == -1


def test_an_address_a_missing_symbol_and_a_missing_module(libc):
    symbols, segments = _readelf(libc)
    address = next(value for value, kind in symbols.values() if kind == "FUNC")
    result, sym = _resolve(libc.encode(), None, addr=address)
    assert (result, sym.offset) == (0, _offset(address, segments))
    assert _resolve(b"c", b"pybpf_no_such_function")[0] == -1
    result, sym = _resolve(b"pybpf_no_such_library", b"strlen")
    assert result == -1 and not sym.module
    pid = os.getpid()                                                       # through the process's root
    mapped = next(m.path for m in read_maps(pid) if os.path.basename(m.path).startswith("libc.so"))
    result, sym = _resolve(b"c", b"malloc", pid=pid)
    assert result == 0 and ct.cast(sym.module, ct.c_char_p).value == f"/proc/{pid}/root{mapped}".encode()
    assert sym.offset == _offset(symbols["malloc"][0], segments)
