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
- Entries are kept by :mod:`pybpf.cache` (``jit/`` under pybpf's cache root; its
  environment switch, limits and ownership checks): an entry ends with a SHA-256 of the
  rest of it, so a damaged entry (a truncated write, a flipped bit) fails the check and is
  rebuilt — ``dlopen`` itself would accept a truncated library and crash later — and an
  entry or directory someone else could have written is never loaded.
"""

from __future__ import annotations

import _thread
import ctypes
import os
import sys

from pybpf._once import once
from pybpf.cache import DiskCache, sha256
from pybpf.vm.jit.abi import JitUnsupported

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

#: bump when the layout of entries or the way they are made changes
FORMAT = b"pybpf-native-3"
#: the CPU and features code is compiled for: the architecture's baseline (portable)
TARGET_CPU, TARGET_FEATURES = "", ""
#: the shared objects (``jit/`` in pybpf's cache, :mod:`pybpf.cache`)
CACHE = DiskCache("jit", max_entries=512, max_bytes=256 << 20)
LINK_TIMEOUT = 60

#: LLVM's global state (initialisation, target machines) is not thread-safe
LLVM_LOCK = _thread.RLock()     # (threading's RLock, without importing threading)
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
    """Why an entry was not used, on the ``pybpf.vm`` logger (imported here: loading
    from the cache, the common case, has nothing to say)."""
    import logging

    logging.getLogger("pybpf.vm").debug(message, *args)


def load(kind: str, key: bytes, build: Callable[[], bytes], symbols: Sequence[str]) -> NativeCode:
    """The functions ``symbols`` of the code ``key`` names: from the disk cache, or
    ``build()`` (which returns :func:`object_code`) compiled, saved and loaded.

    ``kind`` prefixes the entry's file name (``bpf``, ``pcap``). Raises
    :class:`JitUnsupported` where nothing can be compiled here (no llvmlite)."""
    name = f"{kind}-{_entry_name(key)}.so"
    found = _open_entry(name, symbols)
    if found is not None:
        return found
    obj = build()
    saved = _save_entry(name, obj, symbols)
    return saved if saved is not None else in_process(obj, symbols)


def _entry_name(key: bytes) -> str:
    digest = sha256(FORMAT)
    for part in (key, _llvmlite_identity(), os.uname().sysname.encode(), os.uname().machine.encode(),
                 TARGET_CPU.encode(), TARGET_FEATURES.encode()):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:40]


@once
def _llvmlite_identity() -> bytes:
    """Which llvmlite (and so which LLVM) compiles, found without importing it: its
    package directory and its native library's size and modification time."""
    root = _package_directory("llvmlite")
    if root is None:
        return b"no llvmlite"
    parts = [root]
    try:
        for entry in sorted(os.scandir(os.path.join(root, "binding")), key=lambda e: e.name):
            if "llvmlite" in entry.name and entry.name.endswith((".so", ".dylib", ".dll")):
                info = entry.stat()
                parts.append(f"{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    except OSError:
        pass
    return "\n".join(parts).encode()


def _open_entry(name: str, symbols: Sequence[str]) -> NativeCode | None:
    """Entry ``name`` loaded, or ``None`` when it is missing, damaged or does not load
    (then it is deleted, so that the caller's rebuild replaces it). The shared object is
    mapped from the entry itself: the checksum trailer after it is no part of the ELF
    image ``dlopen`` maps."""
    path = CACHE.verified(name)
    if path is None or not sys.platform.startswith("linux"):
        return None
    try:
        library = ctypes.CDLL(str(path))
        addresses = {symbol: ctypes.cast(getattr(library, symbol), ctypes.c_void_p).value or 0
                     for symbol in symbols}
    except (OSError, AttributeError) as exc:
        _debug("JIT cache entry %s does not load (%s): rebuilding it", path, exc)
    else:
        if all(addresses.values()):
            return NativeCode(library, addresses, "disk cache")
    CACHE.remove(name)
    return None


def _save_entry(name: str, obj: bytes, symbols: Sequence[str]) -> NativeCode | None:
    """Link ``obj`` into a shared object, store it as entry ``name`` and load it; ``None``
    where that fails (the reason goes to the ``pybpf.vm`` logger at debug level)."""
    import subprocess
    import tempfile

    linker = _linker()
    if linker is None or CACHE.directory() is None or not sys.platform.startswith("linux"):
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="pybpf-link-") as work:
            source, linked = os.path.join(work, "code.o"), os.path.join(work, "code.so")
            with open(source, "wb") as f:
                f.write(obj)
            subprocess.run([*linker, "-shared", "--build-id=none", "-z", "noexecstack", "-o", linked, source],
                           check=True, capture_output=True, timeout=LINK_TIMEOUT)
            with open(linked, "rb") as f:
                library = f.read()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _debug("JIT cache: cannot link %s (%s %s)", name, exc, detail.decode(errors="replace").strip())
        return None
    if CACHE.write(name, library) is None:
        _debug("JIT cache: cannot save %s", name)
        return None
    found = _open_entry(name, symbols)
    if found is not None:
        found.origin = "compiled"
    return found


@once
def zig() -> str | None:
    """The zig binary of the ziglang wheel (itself, not ``python -m ziglang``, which
    would start a second Python), or ``None``: its ``ld.lld`` links entries, and its
    ``cc`` compiles the C of native callers (the pcap walker)."""
    root = _package_directory("ziglang")
    if root is None:
        return None
    path = os.path.join(root, "zig")
    return path if os.path.isfile(path) else None


def _package_directory(name: str) -> str | None:
    """The directory of the regular package ``name`` (the first on ``sys.path``, as
    importing it would find), found without importing it — nor importlib, whose
    ``util.find_spec`` imports functools and contextlib (~2 ms of ``pybpf filter``'s
    start-up, where this runs on every call)."""
    for entry in sys.path:
        directory = os.path.join(entry or os.curdir, name)
        if os.path.isfile(os.path.join(directory, "__init__.py")):
            return os.path.abspath(directory)
    return None


#: how C sources of native code (:func:`c_library`) are compiled: optimised,
#: position-independent, for the baseline CPU, with no libc (memcpy, where used, is
#: resolved from the process when the library is loaded)
CFLAGS = ("-c", "-O2", "-fPIC", "-mcpu=baseline", "-ffreestanding", "-fno-stack-protector")
COMPILE_TIMEOUT = 120


def c_library(kind: str, source: str, symbols: Sequence[str], key_files: Sequence[str] = ()) -> NativeCode | None:
    """The functions ``symbols`` of the C file ``source``, compiled once by the clang in
    the ziglang wheel and kept in the disk cache like compiled programs (the entry's key
    covers the source, ``key_files`` and the zig build); ``None`` where nothing can
    compile here (no ziglang, no linker)."""
    from pybpf.cache import files_digest

    compiler = zig()
    if compiler is None:
        return None
    info = os.stat(compiler)
    key = files_digest([source, *key_files]) + b"\0" + b" ".join(c.encode() for c in CFLAGS) + b"\0" \
        + f"{compiler}:{info.st_size}:{info.st_mtime_ns}".encode()
    try:
        return load(kind, key, lambda: _c_object(compiler, source), symbols)
    except (ImportError, JitUnsupported, RuntimeError, OSError):
        return None


def _c_object(compiler: str, source: str) -> bytes:
    """``source`` compiled to a relocatable object (what the disk cache links and keeps)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pybpf-cc-") as work:
        output = os.path.join(work, "code.o")
        try:
            subprocess.run([compiler, "cc", *CFLAGS, "-o", output, source], check=True, capture_output=True,
                           timeout=COMPILE_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
            raise JitUnsupported(f"cannot compile {os.path.basename(source)}: {exc} {detail}".strip()) from None
        with open(output, "rb") as f:
            return f.read()


def _linker() -> list[str] | None:
    found = zig()
    return None if found is None else [found, "ld.lld"]


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
