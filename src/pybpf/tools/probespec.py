"""BCC's probe patterns (funccount, funclatency, stackcount, trace, argdist), resolved to
trace-language attach points on this kernel:

- ``t:CATEGORY:EVENT`` — tracepoints (globs, or regular expressions with ``-r``);
- ``LIBRARY:FUNCTION`` / ``p:LIBRARY:FUNCTION`` (``c:malloc``, ``/bin/bash:readline``) —
  uprobes on a library or binary's functions (globs or regular expressions);
- ``u:LIBRARY:PROBE`` — USDT probes (globs);
- ``FUNCTION`` / ``p::FUNCTION`` — kernel functions: kprobes, which this kernel lacks, so
  they are refused with the tracepoint to use instead.
"""

from __future__ import annotations

import fnmatch
import os
import re

from pybpf.tools.events import ToolError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_GLOB = "*?["


@dataclass(frozen=True)
class Target:
    """One attach point: the trace-language probe and the name BCC prints for it."""

    point: str
    label: str


def _matcher(pattern: str, regex: bool):
    if regex:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"-r {pattern!r}: {exc}") from None
        return lambda name: compiled.match(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def library_path(library: str, pid: int | None = None) -> str:
    """The file of ``library``: a path, a library name (``c``, ``libc``, ``pthread``) — as
    process ``pid`` maps it when given (through /proc/PID/root, so a container's own libc),
    else from the loader's cache as BCC does — or a binary on $PATH."""
    from pybpf.symbols import SymbolError, find_library

    if "/" in library:
        if not os.path.exists(library):
            raise ToolError(f"{library}: no such file")
        return library
    if pid:
        mapped = _mapped_library(library, pid)
        if mapped:
            return mapped
    try:
        return find_library(library)
    except SymbolError:
        import shutil

        found = shutil.which(library)
        if found:
            return found
        raise ToolError(f"can't find library or binary {library!r}") from None


def _mapped_library(library: str, pid: int) -> str | None:
    """The file of process ``pid`` mapped as ``library`` (lib{name}.so…, {name}.so…)."""
    stem = library if library.startswith("lib") else f"lib{library}"
    try:
        with open(f"/proc/{pid}/maps") as file:
            maps = file.read()
    except OSError:
        raise ToolError(f"-p {pid}: no such process") from None
    for line in maps.splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/"):
            name = fields[5].rsplit("/", 1)[-1]
            if name.startswith((f"{stem}.so", f"{stem}-")) and ".so" in name:
                return f"/proc/{pid}/root{fields[5]}"
    return None


def kernel_refusal(function: str) -> ToolError:
    """The error for a kernel-function probe: this kernel has no kprobes; the tracepoint
    reporting the same event where one is known."""
    from pybpf.tracefs import Tracefs, TracefsError

    hint = "; trace a tracepoint instead (`pybpf trace -l 'tracepoint:*'` lists them)"
    try:
        tracefs = Tracefs()
        if any(c in function for c in _GLOB):
            prefix = function.split("*", 1)[0].split("?", 1)[0]
            stem = next((prefix[len(p):] for p in ("vfs_", "ksys_", "__x64_sys_", "sys_") if prefix.startswith(p)), None)
            if stem is not None and tracefs.match(f"syscalls:sys_enter_{stem}*"):
                hint = f"; the tracepoints t:syscalls:sys_enter_{stem}* report the syscalls behind them"
        else:
            instead = tracefs.tracepoint_for_function(function)
            if instead:
                hint = f"; the tracepoint t:{instead} reports the same event"
    except TracefsError:
        pass
    return ToolError(f"{function!r} is a kernel function: kprobes are not available on this kernel{hint}")


def split(pattern: str) -> tuple[str, str, str]:
    """BCC's ``[TYPE:][LIBRARY:]NAME`` as (type p/t/u, library, name)."""
    parts = pattern.split(":")
    if len(parts) == 1:
        return "p", "", parts[0]
    if len(parts) == 2:
        return "p", parts[0], parts[1]
    if len(parts) == 3 and parts[0] in ("p", "t", "u"):
        if parts[0] == "t":
            return "t", "", f"{parts[1]}:{parts[2]}"
        return parts[0], parts[1], parts[2]
    raise ToolError(f"{pattern!r}: expected [p:|t:|u:][LIBRARY:]NAME (e.g. c:malloc, t:sched:sched_fork, "
                    f"u:/usr/bin/python3:function__entry)")


def resolve(pattern: str, *, regex: bool = False, usdt: bool = True, pid: int | None = None) -> list[Target]:
    """Every attach point ``pattern`` names (at least one, or a ToolError saying why);
    with ``pid``, library names are those that process maps."""
    kind, library, name = split(pattern)
    if not name:
        raise ToolError(f"{pattern!r}: no function, tracepoint or probe named")
    matches = _matcher(name, regex)
    wild = regex or any(c in name for c in _GLOB)
    if kind == "t":
        from pybpf.tracefs import Tracefs, TracefsError

        try:
            events = Tracefs().events
        except TracefsError as exc:
            raise ToolError(f"{pattern}: {exc}") from None
        names = sorted(e for e in events if matches(e)) if wild else [name] if name in events else []
        if not names:
            raise ToolError(f"{pattern}: no tracepoint matches {name}")
        return [Target(f"tracepoint:{n}", n) for n in names]
    if kind == "p" and not library:
        raise kernel_refusal(name)
    path = library_path(library, pid)
    if kind == "u":
        if not usdt:
            raise ToolError(f"{pattern}: USDT probes are not supported by this tool")
        from pybpf.usdt import UsdtError, read_probes

        try:
            probes = read_probes(path)
        except UsdtError as exc:
            raise ToolError(f"{pattern}: {exc}") from None
        found = sorted({(p.provider, p.name) for p in probes if matches(p.name)})
        if not found:
            raise ToolError(f"{pattern}: no USDT probe in {path} matches {name}")
        return [Target(f"usdt:{path}:{provider}:{probe}", probe) for provider, probe in found]
    from pybpf.symbols import ElfSymbols, SymbolError

    try:
        elf = ElfSymbols.cached(path)
    except SymbolError as exc:
        raise ToolError(f"{pattern}: {exc}") from None
    seen: dict[int, str] = {}
    for function in sorted(elf.names()) if wild else [name]:
        if wild and not matches(function):
            continue
        address = elf.address(function)
        if address is None:
            raise ToolError(f"{pattern}: no function {function!r} in {path}")
        if address:
            seen.setdefault(address, function)      # aliases at one address: probe it once
    if not seen:
        raise ToolError(f"{pattern}: no function in {path} matches {name}")
    return [Target(f"uprobe:{path}:{function}", function) for function in sorted(seen.values())]
