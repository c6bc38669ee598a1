"""``bcc.libbcc``: the ctypes structures and the C-library entry points that BCC scripts
call themselves (examples/tracing/strlen_hist_ifunc.py resolves a symbol with
``lib.bcc_resolve_symname``), served by pybpf's ELF symbol code instead of libbcc.so.

``lib``'s functions take what ctypes callers pass — bytes, ints, ``ctypes.byref(struct)``
or pointers — and fill the structures as libbcc does.
"""

from __future__ import annotations

import ctypes as ct
import os
from typing import Any

#: BCC_SYM_ALL_TYPES: every ELF symbol type (the option libbcc uses when given none)
BCC_SYM_ALL_TYPES = 65535


class bcc_symbol(ct.Structure):  # noqa: N801 (BCC's name)
    _fields_ = [("name", ct.c_char_p), ("demangle_name", ct.c_char_p), ("module", ct.POINTER(ct.c_char)),
                ("offset", ct.c_ulonglong)]


class bcc_symbol_option(ct.Structure):  # noqa: N801
    _fields_ = [("use_debug_file", ct.c_int), ("check_debug_file_crc", ct.c_int), ("lazy_symbolize", ct.c_int),
                ("use_symbol_type", ct.c_uint)]


def _target(arg: Any) -> Any:
    """The structure behind ``ctypes.byref(s)``, a pointer to it, or ``s`` itself (None for NULL)."""
    if arg is None:
        return None
    if hasattr(arg, "_obj"):                       # ctypes.byref
        return arg._obj
    if isinstance(arg, ct._Pointer):
        return arg.contents if arg else None
    return arg


class _Lib:
    """The libbcc functions pybpf provides (calling another is an AttributeError naming it)."""

    def __init__(self) -> None:
        self._strings: dict[bytes, Any] = {}      # C strings handed out, alive as long as the module

    def _cstring(self, value: bytes) -> Any:
        if value not in self._strings:
            self._strings[value] = ct.create_string_buffer(value)
        return self._strings[value]

    def bcc_resolve_symname(self, module: bytes | None, symname: bytes | None, addr: int, pid: int,
                            option: Any, sym: Any) -> int:
        """Fill ``sym`` with the module's path and the file offset of ``symname`` (or of
        ``addr``, a virtual address) in it, as libbcc: 0, or -1 when the module or the
        symbol (of a type ``option.use_symbol_type`` allows) is not found."""
        from pybpf.bcc.bpf import BPF
        from pybpf.symbols import ElfSymbols, SymbolError, find_library
        from pybpf.symbols.elf import symbol_value

        out = _target(sym)
        options = _target(option)
        ct.memset(ct.byref(out), 0, ct.sizeof(out))
        if not module:
            return -1
        name = os.fsdecode(module)
        # a library name: the one the process maps (given a pid), else the ld.so cache's
        mapped = BPF.find_library(name, pid) if "/" not in name and pid not in (0, -1) else None
        try:
            path = name if "/" in name else os.fsdecode(mapped) if mapped else find_library(
                name.removeprefix("lib").split(".so")[0])
        except SymbolError:
            return -1
        if pid not in (0, -1) and not path.startswith("/proc"):
            path = f"/proc/{pid}/root{path}"
        types = options.use_symbol_type if options is not None else BCC_SYM_ALL_TYPES
        try:
            address = addr
            if symname and not addr:
                found = symbol_value(path, os.fsdecode(symname), types)
                address = found[0] if found else 0
            offset = ElfSymbols.cached(path).offset_of_vaddr(address) if address else None
        except SymbolError:
            return -1
        if not offset:
            return -1
        out.module = ct.cast(self._cstring(os.fsencode(path)), ct.POINTER(ct.c_char))
        out.name = symname
        out.offset = offset
        return 0

    @staticmethod
    def bpf_table_fd(module: Any, table_name: bytes | str) -> int:
        """The fd of the program's map ``table_name`` (``module`` is ``BPF(...).module``);
        -1 when it has none of that name, as libbcc."""
        try:
            return int(module[table_name].map_fd)
        except KeyError:                           # pybpf.bcc's TableError is one
            return -1


lib = _Lib()
