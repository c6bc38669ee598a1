"""Finding a shared library by short name (``c`` → /lib/x86_64-linux-gnu/libc.so.6) the way
the dynamic linker does: the ldconfig cache first, then the default directories.

Users name uprobe targets as bpftrace and BCC let them (``uprobe:c:malloc``,
``attach_uprobe(name="c")``); the cache file is read directly so no ``ldconfig``
binary is needed.
"""

from __future__ import annotations

import os
import platform
import struct
from pathlib import Path

from pybpf.symbols.errors import SymbolError

_NEW_MAGIC = b"glibc-ld.so.cache1.1"
#: bits of the cache's flags field that name the ABI of the entry
_FLAG_TYPE_MASK = 0x00FF
_FLAG_ELF_LIBC6 = 0x0003
_FLAG_ARCH = {"x86_64": 0x0300, "aarch64": 0x0A00}
_FLAG_ARCH_MASK = 0xFF00
_DEFAULT_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")


def read_ld_cache(path: str | Path = "/etc/ld.so.cache") -> dict[str, str]:
    """Library file name (``libc.so.6``) → path, for this machine's architecture."""
    data = Path(path).read_bytes()
    start = data.find(_NEW_MAGIC)
    if start < 0:
        raise SymbolError(f"{path}: not a glibc ld.so cache (no {_NEW_MAGIC.decode()} header)")
    nlibs, = struct.unpack_from("<I", data, start + 20)
    want_arch = _FLAG_ARCH.get(platform.machine())
    libs: dict[str, str] = {}
    entry = start + 48  # magic(20) nlibs strtab_size flags pad[3] extension_offset unused[3]
    for i in range(nlibs):
        try:
            flags, key, value = struct.unpack_from("<iII", data, entry + 24 * i)
        except struct.error:
            raise SymbolError(f"{path}: truncated at entry {i} of {nlibs}") from None
        if flags & _FLAG_TYPE_MASK != _FLAG_ELF_LIBC6:
            continue
        if want_arch is not None and flags & _FLAG_ARCH_MASK != want_arch:
            continue
        # string offsets count from the new-format header
        name, target = _cstring(data, start + key), _cstring(data, start + value)
        libs.setdefault(name, target)
    return libs


def find_library(name: str, cache: str | Path = "/etc/ld.so.cache") -> str:
    """The path of a library given as a path, a file name (``libc.so.6``), or a short
    name (``c``, ``libc``); raises :class:`SymbolError` naming what was tried."""
    if "/" in name:
        if not os.path.exists(name):
            raise SymbolError(f"{name}: no such file")
        return name
    stem = name if name.startswith("lib") else f"lib{name}"
    try:
        libs = read_ld_cache(cache)
    except OSError:
        libs = {}
    if name in libs:
        return libs[name]
    candidates = sorted(lib for lib in libs if lib == f"{stem}.so" or lib.startswith(f"{stem}.so."))
    if candidates:
        return libs[candidates[0]]
    for directory in _DEFAULT_DIRS:
        for candidate in sorted(Path(directory).glob(f"{stem}.so*")):
            if candidate.is_file():
                return str(candidate)
    raise SymbolError(f"library {name!r} not found in {cache} nor in {', '.join(_DEFAULT_DIRS)}")


def _cstring(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("utf-8", "replace")
