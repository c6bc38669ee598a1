"""Probes that fire only while another probe's semaphore is raised.

CPython 3.11 emits ``python:function__entry`` only on its tracing path: ``ceval.c``
calls ``DTRACE_FUNCTION_ENTRY()`` in the ``DO_TRACING`` instruction handler alone
(when a ``RESUME`` is traced), and the interpreter dispatches to that handler only
while a ``sys.settrace``/``setprofile`` function is set or the ``python:line``
probe's semaphore is raised (``opcode |= cframe.use_tracing OR_DTRACE_LINE``).
Raising the entry probe's own semaphore is not enough: with only
``function__entry``/``function__return`` attached, returns fire and entries never do
(bpftrace shows the same: ``@entry: 0``). Not a build problem — Debian's python3.11
has the notes and the semaphores — but the interpreter's design in that version.

So attaching ``python:function__entry`` of a CPython 3.11 binary also raises the
``python:line`` semaphore for as long as it is attached, as a tracer that attached
``line`` would: a uprobe at each ``line`` site with the semaphore as its reference
counter, and no program on it. The cost is a trap each time the running line changes.
The version is read from the binary's ``Py_Version`` (exported since 3.11).
"""

from __future__ import annotations

import struct

from pybpf.usdt.notes import UsdtProbe, read_probes

#: (provider, probe) → (the interpreter versions, the probe whose semaphore it needs)
_NEEDS = {("python", "function__entry"): ({(3, 11)}, "line")}


def companion_sites(site: UsdtProbe) -> list[UsdtProbe]:
    """The sites of other probes of ``site``'s binary whose semaphores must be raised
    for ``site`` to fire (empty for almost every probe)."""
    need = _NEEDS.get((site.provider, site.name))
    if need is None or _python_version(site.path) not in need[0]:
        return []
    return [p for p in read_probes(site.path)
            if p.provider == site.provider and p.name == need[1] and p.semaphore_offset]


def _python_version(path: str) -> tuple[int, int] | None:
    """(major, minor) of the CPython whose binary or libpython is ``path``, from its
    ``Py_Version`` (PY_VERSION_HEX), or None where it has none."""
    from pybpf.symbols import ElfSymbols, SymbolError
    from pybpf.symbols.elf import symbol_value

    try:
        found = symbol_value(path, "Py_Version")
        size = found[1] if found else 0     # an unsigned long: 8 bytes on 64-bit builds
        offset = ElfSymbols.cached(path).offset_of_vaddr(found[0]) if found and size in (4, 8) else None
        if offset is None:
            return None
        with open(path, "rb") as f:
            f.seek(offset)
            (version,) = struct.unpack("<I" if size == 4 else "<Q", f.read(size))
    except (SymbolError, OSError, struct.error):
        return None
    return version >> 24, (version >> 16) & 0xFF
