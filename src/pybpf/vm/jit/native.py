"""Machine code made with llvmlite, and kept on disk between processes.

Compiling with LLVM costs tens of milliseconds a program, and a short command such as
``pybpf filter -r big.pcap -w out.pcap EXPR`` compiles the same code every time it runs
(the filter, the pcap record walker). :func:`load` compiles once and keeps the result in
the user's cache directory as a **shared object**, which a later process loads with
``ctypes`` in well under a millisecond — without importing llvmlite at all, which by
itself costs about 50 ms (most of it mapping the 170 MB LLVM library).

- On a miss, the LLVM IR is optimised and compiled to a position-independent object
  (:func:`object_code`), linked into a shared object by the ``ld.lld`` in the ``ziglang``
  wheel (a dependency already, for C), checksummed and renamed into place. Where that is
  not possible (no cache directory, no linker, not an ELF platform) the object is loaded
  into this process by llvmlite instead: slower to start, the same code.
- The entry's name is a SHA-256 of everything that determines the machine code: the
  caller's key (the eBPF program's bytes, and the source of the code generator), the
  llvmlite build (its version and its LLVM library's size and time stamp), the target
  (operating system, architecture) and the CPU compiled for. Code is compiled for the
  architecture's baseline CPU (:data:`TARGET_CPU`), not the build host's, so an entry is
  valid on any machine of the architecture — a home directory shared between hosts
  included.
- An entry ends with a SHA-256 of the rest of it. A damaged entry (a truncated write, a
  flipped bit) fails the check and is rebuilt; ``dlopen`` itself would accept a truncated
  library and crash later.
- The directory is ``$PYBPF_JIT_CACHE`` when set (``off`` disables the disk cache), else
  ``jit/`` in the toolchain's cache (``$XDG_CACHE_HOME/pybpf``, ``~/.cache/pybpf``). It
  keeps the :data:`MAX_ENTRIES` most recently used entries.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

try:                                    # the built-in SHA-256: hashlib loads OpenSSL (~3 ms a run)
    from _sha256 import sha256
except ImportError:                     # pragma: no cover - Python 3.12+ names it _sha2
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

from pybpf.vm.jit.abi import JitUnsupported

#: bump when the layout of entries or the way they are made changes
FORMAT = b"pybpf-native-2"
ENV = "PYBPF_JIT_CACHE"
#: the CPU and features code is compiled for: the architecture's baseline (portable)
TARGET_CPU, TARGET_FEATURES = "", ""
#: what follows a shared object in a cache entry: this marker, then the SHA-256 of the object
TRAILER = b"\0PYBPF-SHA256\0"
MAX_ENTRIES = 512
LINK_TIMEOUT = 60

#: LLVM's global state (initialisation, target machines) is not thread-safe
LLVM_LOCK = threading.RLock()
_initialised = False


class NativeCode:
    """Loaded machine code: the addresses of its functions, and the object (a ``ctypes``
    library or an llvmlite engine) that keeps it mapped — keep this referenced while
    the code may run."""

    def __init__(self, owner: Any, addresses: dict[str, int], origin: str):
        self.owner, self.addresses = owner, addresses
        #: ``"disk cache"`` (loaded from an entry), ``"compiled"`` (and saved), or
        #: ``"compiled, not cached"``
        self.origin = origin

    def address(self, symbol: str) -> int:
        return self.addresses[symbol]


def _debug(message: str, *args: object) -> None:
    """Why the cache was not used, on the ``pybpf.vm`` logger (imported here: loading
    from the cache, the common case, has nothing to say)."""
    import logging

    logging.getLogger("pybpf.vm").debug(message, *args)


def cache_dir() -> Path | None:
    """Where entries are kept, or ``None`` where the disk cache is off."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "0", "off", "no", "false") else Path(value)
    # pybpf.toolchain.paths.cache_root(), without importing it (importlib.resources: ~2 ms
    # of every ``pybpf filter`` run)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybpf" / "jit"


def files_digest(paths: Iterable[Path]) -> bytes:
    """A digest of the files' contents: callers name the sources of their code generator,
    so that editing one of them (an editable install) never reuses stale machine code."""
    digest = sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def load(kind: str, key: bytes, build: Callable[[], bytes], symbols: Sequence[str]) -> NativeCode:
    """The functions ``symbols`` of the code ``key`` names: from the disk cache, or
    ``build()`` (which returns :func:`object_code`) compiled, saved and loaded.

    ``kind`` prefixes the entry's file name (``bpf``, ``pcap``). Raises
    :class:`JitUnsupported` where nothing can be compiled here (no llvmlite)."""
    directory = cache_dir() if sys.platform.startswith("linux") else None
    if directory is not None and not _trusted_directory(directory):
        directory = None
    path = directory / f"{kind}-{_entry_name(key)}.so" if directory is not None else None
    if path is not None:
        found = _open_entry(path, symbols)
        if found is not None:
            return found
    obj = build()
    if path is not None:
        saved = _save_entry(path, obj, symbols)
        if saved is not None:
            return saved
    return in_process(obj, symbols)


_WARNED: set[str] = set()


def _distrust(path: Path, why: str) -> bool:
    """Say once (a warning on the ``pybpf.vm`` logger) why ``path`` is not used; False."""
    import logging

    message = f"JIT cache: not using {path}: {why} (compiling without the disk cache)"
    if message not in _WARNED:
        _WARNED.add(message)
        logging.getLogger("pybpf.vm").warning(message)
    return False


def _unsafe(info: os.stat_result, sticky_ok: bool) -> str | None:
    """Why a file or directory with ``info`` could hold someone else's code, or None:
    owned by another user than this one (or root), or writable by group or others (a
    directory with the sticky bit, like /tmp, only where ``sticky_ok``) — as ssh judges
    ~/.ssh."""
    if info.st_uid not in (os.getuid(), 0):
        return f"owned by uid {info.st_uid}, not by this user (uid {os.getuid()})"
    if info.st_mode & 0o022 and not (sticky_ok and info.st_mode & stat.S_ISVTX):
        who = {0o022: "group and others", 0o020: "group", 0o002: "others"}[info.st_mode & 0o022]
        return f"writable by {who} (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _trusted_directory(directory: Path) -> bool:
    """Whether code may be loaded from ``directory`` (created 0700 when missing): it and
    every directory above it must be safe (see :func:`_unsafe`; sticky ones above it are)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory = directory.resolve()
        info = os.stat(directory)
    except OSError as exc:
        return _distrust(directory, f"cannot create or read it ({exc.strerror})")
    if not stat.S_ISDIR(info.st_mode):
        return _distrust(directory, "not a directory")
    why = _unsafe(info, sticky_ok=False)
    if why is not None:
        return _distrust(directory, why)
    for parent in directory.parents:
        try:
            why = _unsafe(os.stat(parent), sticky_ok=True)
        except OSError as exc:
            return _distrust(directory, f"cannot read {parent} ({exc.strerror})")
        if why is not None:
            return _distrust(directory, f"{parent} is {why}")
    return True


def _entry_name(key: bytes) -> str:
    digest = sha256(FORMAT)
    for part in (key, _llvmlite_identity(), os.uname().sysname.encode(), os.uname().machine.encode(),
                 TARGET_CPU.encode(), TARGET_FEATURES.encode()):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:40]


@functools.cache
def _llvmlite_identity() -> bytes:
    """Which llvmlite (and so which LLVM) compiles, found without importing it: its
    package directory and its native library's size and modification time."""
    spec = importlib.util.find_spec("llvmlite")
    if spec is None or not spec.submodule_search_locations:
        return b"no llvmlite"
    root = Path(list(spec.submodule_search_locations)[0])
    parts = [str(root)]
    try:
        for entry in sorted(os.scandir(root / "binding"), key=lambda e: e.name):
            if "llvmlite" in entry.name and entry.name.endswith((".so", ".dylib", ".dll")):
                info = entry.stat()
                parts.append(f"{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    except OSError:
        pass
    return "\n".join(parts).encode()


def _open_entry(path: Path, symbols: Sequence[str]) -> NativeCode | None:
    """The entry at ``path`` loaded, or ``None`` when it is missing or damaged (then it
    is deleted, so that the caller's rebuild replaces it)."""
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NOFOLLOW)) as f:
            info = os.fstat(f.fileno())
            why = _unsafe(info, sticky_ok=False) if stat.S_ISREG(info.st_mode) else "not a regular file"
            if why is not None:
                return _distrust(path, why) or None
            data = f.read()
    except OSError:
        return None
    body, marker, checksum = data[:-32 - len(TRAILER)], data[-32 - len(TRAILER):-32], data[-32:]
    if marker == TRAILER and sha256(body).digest() == checksum:
        try:
            library = ctypes.CDLL(str(path))
            addresses = {name: ctypes.cast(getattr(library, name), ctypes.c_void_p).value or 0 for name in symbols}
        except (OSError, AttributeError) as exc:
            _debug("JIT cache entry %s does not load (%s): rebuilding it", path, exc)
        else:
            if all(addresses.values()):
                _touch(path)
                return NativeCode(library, addresses, "disk cache")
    else:
        _debug("JIT cache entry %s is damaged: rebuilding it", path)
    _remove(path)
    return None


def _save_entry(path: Path, obj: bytes, symbols: Sequence[str]) -> NativeCode | None:
    """Link ``obj`` into a shared object, store it at ``path`` and load it; ``None``
    where that fails (the reason goes to the ``pybpf.vm`` logger at debug level)."""
    import subprocess
    import tempfile

    linker = _linker()
    if linker is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".link-") as work:
            source, linked = os.path.join(work, "code.o"), os.path.join(work, "code.so")
            with open(source, "wb") as f:
                f.write(obj)
            subprocess.run([*linker, "-shared", "--build-id=none", "-z", "noexecstack", "-o", linked, source],
                           check=True, capture_output=True, timeout=LINK_TIMEOUT)
            with open(linked, "rb") as f:
                library = f.read()
            entry = os.path.join(work, "entry.so")
            with open(entry, "wb", opener=lambda name, flags: os.open(name, flags, 0o600)) as f:
                f.write(library + TRAILER + sha256(library).digest())
            os.chmod(entry, 0o600)          # whatever the umask: loadable only if no one else may write it
            os.replace(entry, path)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _debug("JIT cache: cannot save %s (%s %s)", path, exc, detail.decode(errors="replace").strip())
        return None
    _prune(path.parent)
    found = _open_entry(path, symbols)
    if found is not None:
        found.origin = "compiled"
    return found


@functools.cache
def _linker() -> list[str] | None:
    """``ld.lld`` from the ziglang wheel (the zig binary itself, not ``python -m
    ziglang``, which would start a second Python), or ``None``."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    zig = Path(list(spec.submodule_search_locations)[0]) / "zig"
    return [str(zig), "ld.lld"] if zig.is_file() else None


def _touch(path: Path) -> None:
    """Mark an entry used (pruning removes the least recently used)."""
    try:
        os.utime(path)
    except OSError:
        pass


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _prune(directory: Path) -> None:
    """Keep the cache at MAX_ENTRIES entries: drop the least recently used quarter."""
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(".so")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[:len(entries) - MAX_ENTRIES * 3 // 4]:
            _remove(Path(entry.path))
    except OSError:
        pass


def _llvm() -> Any:
    """llvmlite's binding, initialised for this machine; :class:`JitUnsupported` where
    it cannot be imported."""
    global _initialised
    try:
        import llvmlite.binding as llvm
    except ImportError as exc:
        raise JitUnsupported(f"llvmlite is unavailable ({exc})") from None
    with LLVM_LOCK:
        if not _initialised:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            llvm.initialize_native_asmparser()   # inline asm (the JIT's full-width divisions)
            _initialised = True
    return llvm


def object_code(module_ir: str, opt: int) -> bytes:
    """LLVM IR text optimised at level ``opt`` and compiled to a position-independent
    object for this platform's baseline CPU (what :func:`load`'s ``build`` returns).

    Level 0 is the pipeline for large programs: only SROA (registers and stack slots
    into SSA values) and CFG simplification, then LLVM's fast code generator. LLVM's
    standard pipelines (-O1 and up) take time quadratic in a function's branches
    (measured: correlated value propagation, instcombine and jump threading over the
    chain of budget checks, and machine code sinking), which made a 4,000-branch
    program take minutes; every pass of level 0 is about linear."""
    llvm = _llvm()
    with LLVM_LOCK:
        machine = llvm.Target.from_default_triple().create_target_machine(
            cpu=TARGET_CPU, features=TARGET_FEATURES, opt=opt, reloc="pic", codemodel="default")
        parsed = llvm.parse_assembly(module_ir)
        parsed.triple = llvm.get_process_triple()
        parsed.data_layout = str(machine.target_data)
        parsed.verify()
        builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=opt))
        if opt:
            builder.getModulePassManager().run(parsed, builder)
        else:
            passes = llvm.create_new_function_pass_manager()
            passes.add_sroa_pass()
            passes.add_simplify_cfg_pass()
            for function in parsed.functions:
                if not function.is_declaration:
                    passes.run(function, builder)
        return machine.emit_object(parsed)


def in_process(obj: bytes, symbols: Sequence[str]) -> NativeCode:
    """An object loaded into this process by llvmlite's MCJIT (no file, no linker)."""
    llvm = _llvm()
    with LLVM_LOCK:
        machine = llvm.Target.from_default_triple().create_target_machine()
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        addresses = {name: engine.get_function_address(name) for name in symbols}
    return NativeCode(engine, addresses, "compiled, not cached")
