"""``vmlinux.h`` for the kernel a program is compiled against, generated from its BTF on
first use and kept in pybpf's cache (``vmlinux/``, :mod:`pybpf.cache`) under the
kernel's build id.

Generating the header takes a few seconds (parse ~100k BTF types, write ~130k lines), and
the answer only changes when the kernel does, so it is keyed by the GNU build id the
kernel publishes in ``/sys/kernel/notes`` (a hash of the BTF bytes when there is none, or
when the BTF comes from a file), plus a digest of the generator so a fixed dumper never
serves an old header. Where the cache is off, the header is written to a temporary
directory of this process's (removed when it exits).
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from pybpf.btf import BTF, c_dump
from pybpf.cache import DiskCache
from pybpf.toolchain.paths import KERNEL_BTF  # noqa: F401 (also read from here)

#: the running kernel's ELF notes (its GNU build id among them)
KERNEL_NOTES = "/sys/kernel/notes"
_NT_GNU_BUILD_ID = 3
#: generated headers, an entry (a directory holding ``vmlinux.h``) per kernel and generator
CACHE = DiskCache("vmlinux", max_entries=8, max_bytes=256 << 20)
#: where the cache is off: this process's headers, by entry name (removed at exit)
_temporary_dirs: dict[str, Path] = {}


def kernel_build_id(notes: str | Path = KERNEL_NOTES) -> str | None:
    """The running kernel's GNU build id in hex, read from its ELF notes; None when the
    file is unreadable or holds no build-id note."""
    try:
        data = Path(notes).read_bytes()
    except OSError:
        return None
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, note_type = struct.unpack_from("<III", data, pos)
        name_at = pos + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        end = desc_at + (descsz + 3) // 4 * 4
        if end > len(data):
            return None
        if note_type == _NT_GNU_BUILD_ID and data[name_at:name_at + namesz].rstrip(b"\0") == b"GNU":
            return data[desc_at:desc_at + descsz].hex()
        pos = end
    return None


def vmlinux_include_dir(btf_path: str | Path = KERNEL_BTF) -> Path:
    """A directory holding ``vmlinux.h`` for the BTF at ``btf_path`` (the running kernel's
    by default), generated now unless the cache has it. Raises
    :class:`~pybpf.btf.BTFError` when the BTF is unreadable or malformed."""
    data: bytes | None = None
    build_id = kernel_build_id() if str(btf_path) == KERNEL_BTF else None
    if build_id is None:
        data = _read(btf_path)
        build_id = "btf-" + hashlib.sha256(data).hexdigest()[:32]
    name = f"{build_id}-{_generator_digest()}"
    found = CACHE.read_tree(name) or _temporary_dirs.get(name)
    if found is not None:
        return found
    files = {"vmlinux.h": c_dump.dump_c(BTF.parse(data if data is not None else _read(btf_path))).encode()}
    return CACHE.write_tree(name, files) or _temporary_dir(name, files)


def generated_dirs() -> tuple[str, ...]:
    """The directories generated headers are found in (which a compile cache need not
    re-check: their names cover their contents)."""
    directory = CACHE.directory()
    return (*([str(directory)] if directory is not None else []), *map(str, _temporary_dirs.values()))


def _temporary_dir(name: str, files: dict[str, bytes]) -> Path:
    """A directory holding ``files``, removed when this process exits (the cache is off):
    the process's entry ``name``."""
    import atexit
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix="pybpf-vmlinux-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    for file, contents in files.items():
        Path(directory, file).write_bytes(contents)
    _temporary_dirs[name] = Path(directory)
    return _temporary_dirs[name]


def _read(btf_path: str | Path) -> bytes:
    try:
        return Path(btf_path).read_bytes()
    except OSError as exc:
        why = " (this kernel has no BTF: CONFIG_DEBUG_INFO_BTF is off)" if str(btf_path) == KERNEL_BTF else ""
        raise c_dump.CDumpError(f"{btf_path}: cannot read: {exc.strerror}{why}") from None


def _generator_digest() -> str:
    """A digest of the code that writes the header, so changing it invalidates the cache."""
    return hashlib.sha256(Path(c_dump.__file__).read_bytes()).hexdigest()[:12]
