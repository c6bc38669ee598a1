"""Where calls of an IFUNC symbol run: the implementation the dynamic loader picks.

glibc's ``strlen``, ``memcpy``, ``strcmp``... are ``STT_GNU_IFUNC`` symbols: the
symbol's address is a resolver that the dynamic loader calls once, at relocation, to
choose an implementation for this CPU (``__strlen_avx2``, ``__strlen_evex``...). A uprobe
on the symbol's own address fires only when the resolver runs — never on a call — so a
uprobe on ``strlen`` must go to the implementation instead.

The choice is the loader's (CPU features, hwcaps, ``GLIBC_TUNABLES``), so the loader
makes it: a helper process ``dlopen``s the library and ``dlsym``s each IFUNC name —
``dlsym`` runs the resolver as a relocation would — and reports each implementation's
address less the library's load base (``dlinfo``'s link map), an ELF virtual address of
the file. The helper is a separate process so the library's constructors run there and
not in the caller. It runs once per library version for all its IFUNC symbols, with the
caller's environment, on the same machine as the probed processes: it picks what they
pick unless they run with different tunables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pybpf.symbols.errors import SymbolError

#: run by the helper: argv[1] the library, stdin the IFUNC names as JSON; prints
#: {name: ELF virtual address of the implementation} for the names dlsym finds
_HELPER = r"""
import ctypes, json, sys
lib = ctypes.CDLL(sys.argv[1])
dl = ctypes.CDLL(None)
if not hasattr(dl, "dlinfo"):
    dl = ctypes.CDLL("libdl.so.2")
link_map = ctypes.c_void_p()
if dl.dlinfo(ctypes.c_void_p(lib._handle), 2, ctypes.byref(link_map)) != 0:   # RTLD_DI_LINKMAP
    sys.exit("dlinfo(RTLD_DI_LINKMAP) failed")
base = ctypes.c_size_t.from_address(link_map.value).value                      # link_map.l_addr
found = {}
for name in json.load(sys.stdin):
    try:
        found[name] = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value - base
    except AttributeError:
        pass
json.dump(found, sys.stdout)
"""

#: (device, inode, mtime) of a library → its IFUNC names' implementation addresses
_RESOLVED: dict[tuple[int, int, int], dict[str, int]] = {}


def ifunc_implementation(path: str, name: str, ifunc_names: list[str]) -> int:
    """The ELF virtual address in ``path`` of the implementation the dynamic loader
    binds IFUNC symbol ``name`` to (``ifunc_names``: every IFUNC name of the file, all
    resolved by one helper run and kept)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SymbolError(f"{path}: cannot read: {exc.strerror}") from None
    key = (st.st_dev, st.st_ino, st.st_mtime_ns)
    if key not in _RESOLVED:
        _RESOLVED[key] = _run_helper(path, sorted(set(ifunc_names) | {name}))
    address = _RESOLVED[key].get(name)
    if address is None:
        raise SymbolError(f"{path}: {name} is an IFUNC symbol the dynamic loader does not export (dlsym finds no "
                          "such name), so the implementation it picks is unknown")
    return address


def _run_helper(path: str, names: list[str]) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _HELPER, path], input=json.dumps(names),
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        raise SymbolError(f"{path}: cannot resolve its IFUNC symbols: the dynamic loader could not load it "
                          f"in a helper process ({why})")
    return {name: int(address) for name, address in json.loads(done.stdout).items()}
