"""pybpf's disk caches, all on one layer: where they live, the one switch that moves or
disables them, how entries are written and checked, how many are kept, and which
directories and files are trusted at all.

Every cache is a :class:`DiskCache`, a directory named after it under one root:

- the root is ``$PYBPF_CACHE`` when that names a directory, else ``pybpf`` in
  ``$XDG_CACHE_HOME`` (else ``~/.cache``); ``PYBPF_CACHE=off`` (or ``0``, ``no``,
  ``false``, empty) turns every cache off (:func:`root`);
- an entry is written beside its final name and renamed into place, so a reader (another
  process, another thread) sees the whole entry or none; two writers of one entry both
  succeed, the last rename wins, and entries are named after their contents, so both
  wrote the same bytes;
- a file entry (:meth:`DiskCache.write`) ends with a marker and the SHA-256 of the rest:
  a truncated, flipped or foreign file fails :meth:`DiskCache.read` and is deleted (the
  caller rebuilds it); a directory entry (:meth:`DiskCache.write_tree`, for files a tool
  must find under fixed names, such as ``vmlinux.h`` for clang) carries a manifest of its
  files' digests instead;
- each cache keeps at most ``max_entries`` entries and ``max_bytes`` bytes: a write that
  goes past either removes the least recently used entries (reads mark an entry used)
  down to three quarters of the limit;
- a cache's directory is created mode 0700 and used only if it and every directory above
  it belong to this user (or root) and are not writable by group or others (sticky ones
  such as /tmp excepted above it), and an entry file only if it is a regular file of this
  user that no one else may write — as ssh judges ``~/.ssh``: the JIT cache holds machine
  code this process maps and runs, and the others programs it runs. What is refused is
  said once, as a warning on the ``pybpf.cache`` logger, and the cache is then off.

Nothing here raises for a cache that cannot be read or written: that is no cache.
This module imports only what Python has loaded at start-up (and the built-in SHA-256),
since every ``pybpf filter`` run goes through it: paths are strings inside, and the
methods that hand a directory to other code return :class:`pathlib.Path` (imported
then: pathlib, with urllib.parse, ipaddress and fnmatch, is ~5 ms of a start-up), while
reading an entry (:meth:`DiskCache.read`, :meth:`DiskCache.verified`) needs none.
"""

from __future__ import annotations

import _thread
import os
import stat
import time

from pybpf._digest import sha256  # the built-in SHA-256: hashlib would load OpenSSL

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["ENV", "DiskCache", "files_digest", "root", "sha256"]

#: the one environment switch: a directory (the root of every cache) or ``off``
ENV = "PYBPF_CACHE"
OFF = ("", "0", "off", "no", "false")
#: what follows a file entry's body: this marker, then the SHA-256 of the body
TRAILER = b"\0PYBPF-SHA256\0"
#: a directory entry's manifest: ``<sha256 hex> <file name>`` lines
MANIFEST = ".sha256"
#: temporary files and directories older than this (a writer that died) are removed by pruning
STALE_SECONDS = 3600

_WARNED: set[str] = set()
_DIGEST_SIZE = 32
#: files modified more recently than this are keyed by contents (:func:`files_digest`)
RACY_SECONDS = 2.0


def root() -> Path | None:
    """The directory every cache lives under, or ``None`` where caching is off."""
    found = _root()
    return None if found is None else _as_path(found)


def _root() -> str | None:
    """:func:`root` as a string."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in OFF else value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybpf")


def _as_path(path: str) -> Path:
    """``pathlib.Path(path)``, pathlib imported when a caller asks for a Path."""
    from pathlib import Path

    return Path(path)


def files_digest(paths: Iterable[Path | str]) -> bytes:
    """A digest of files' names and states: a cache key covers the sources of the code
    that made an entry, so editing them (an editable install) never reuses stale entries.

    A file is keyed by its size, modification time and inode (as Python keys its
    bytecode cache), which takes a ``stat`` rather than reading and hashing the file:
    hashing the ~40 sources behind a ``pybpf filter`` run was ~7 ms of its start-up. A
    file modified in the last :data:`RACY_SECONDS` is keyed by its contents instead (as
    git does for "racily clean" files): a file system's time stamps are coarse (a few
    milliseconds on ext4), so two edits of the same size within one tick would
    otherwise keep the same key."""
    digest = sha256()
    now = time.time()
    for path in paths:
        name = os.fspath(path)
        info = os.stat(name)
        if now - info.st_mtime < RACY_SECONDS:
            with open(name, "rb") as file:
                state = b"c" + file.read()
        else:
            state = f"s{info.st_size}:{info.st_mtime_ns}:{info.st_ino}".encode()
        digest.update(os.path.basename(name).encode() + b"\0" + state + b"\0")
    return digest.digest()


def _refuse(path: object, why: str) -> None:
    """Say once, on the ``pybpf.cache`` logger, why ``path`` is not used."""
    message = f"cache: not using {path}: {why} (going on without the disk cache)"
    if message not in _WARNED:
        _WARNED.add(message)
        import logging

        logging.getLogger("pybpf.cache").warning(message)


def unsafe(info: os.stat_result, sticky_ok: bool = False) -> str | None:
    """Why a file or directory with ``info`` could hold someone else's data, or None:
    owned by another user than this one (or root), or writable by group or others (a
    directory with the sticky bit, like /tmp, only where ``sticky_ok``)."""
    if info.st_uid not in (os.getuid(), 0):
        return f"owned by uid {info.st_uid}, not by this user (uid {os.getuid()})"
    if info.st_mode & 0o022 and not (sticky_ok and info.st_mode & stat.S_ISVTX):
        who = {0o022: "group and others", 0o020: "group", 0o002: "others"}[info.st_mode & 0o022]
        return f"writable by {who} (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _trusted(directory: str) -> str | None:
    """``directory`` (created 0700 when missing) resolved, if it and every directory above
    it are safe (:func:`unsafe`; sticky ones above it are); else ``None``, said once."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        directory = os.path.realpath(directory)
        info = os.stat(directory)
    except OSError as exc:
        _refuse(directory, f"cannot create or read it ({exc.strerror})")
        return None
    if not stat.S_ISDIR(info.st_mode):
        _refuse(directory, "not a directory")
        return None
    why = unsafe(info)
    parent = directory
    while why is None and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
        try:
            found = unsafe(os.stat(parent), sticky_ok=True)
        except OSError as exc:
            found = f"unreadable ({exc.strerror})"
        if found is not None:
            why = f"{parent} is {found}"
    if why is not None:
        _refuse(directory, why)
        return None
    return directory


def _temporary_name(name: str) -> str:
    """A name for writing ``name`` that no other process or thread uses at the same time."""
    return f".{name}.{os.getpid()}.{_thread.get_ident()}.tmp"


def _remove(path: str | os.PathLike[str]) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


class DiskCache:
    """One cache: the directory ``name`` under :func:`root`, its entries, its limits.

    Entry names are file names chosen by the caller (a digest of what the entry depends
    on, usually with a prefix and a suffix); they must not start with a dot (temporary
    files do) nor hold a slash."""

    def __init__(self, name: str, *, max_entries: int, max_bytes: int = 1 << 30):
        self.name, self.max_entries, self.max_bytes = name, max_entries, max_bytes

    def __repr__(self) -> str:
        return f"DiskCache({self.name!r}, max_entries={self.max_entries}, max_bytes={self.max_bytes})"

    def directory(self) -> Path | None:
        """The cache's directory (created when missing), or ``None`` where caching is off
        or the directory is not trusted (:func:`unsafe`)."""
        found = self._directory()
        return None if found is None else _as_path(found)

    def _directory(self) -> str | None:
        base = _root()
        if base is None or os.name != "posix":      # (ownership and modes are POSIX's)
            return None
        return _trusted(os.path.join(base, self.name))

    def path(self, name: str) -> Path | None:
        """Where entry ``name`` is (or would be) kept, or ``None`` where the cache is off."""
        found = self._path(name)
        return None if found is None else _as_path(found)

    def _path(self, name: str) -> str | None:
        if not name or name.startswith(".") or "/" in name:
            raise ValueError(f"not a cache entry name: {name!r}")
        directory = self._directory()
        return None if directory is None else os.path.join(directory, name)

    # -- file entries ---------------------------------------------------------------

    def read(self, name: str) -> bytes | None:
        """The body of entry ``name``; ``None`` when there is none, it is damaged (then it
        is deleted) or not trusted. A hit marks the entry used."""
        found = self._read(name)
        return None if found is None else found[1]

    def verified(self, name: str) -> str | None:
        """The path of entry ``name`` once its checksum is checked (for files a library
        maps by name, as ``dlopen`` does); ``None`` as :meth:`read`."""
        found = self._read(name)
        return None if found is None else found[0]

    def _read(self, name: str) -> tuple[str, bytes] | None:
        path = self._path(name)
        if path is None:
            return None
        try:
            with open(path, "rb", opener=_open_no_follow) as f:
                info = os.fstat(f.fileno())
                why = unsafe(info) if stat.S_ISREG(info.st_mode) else "not a regular file"
                if why is not None:
                    _refuse(path, why)
                    return None
                data = f.read()
        except OSError:
            return None
        end = len(data) - _DIGEST_SIZE - len(TRAILER)
        if end >= 0 and data[end:end + len(TRAILER)] == TRAILER and sha256(data[:end]).digest() == data[-_DIGEST_SIZE:]:
            _touch(path)
            return path, data[:end]
        _remove(path)
        return None

    def remove(self, name: str) -> None:
        """Delete entry ``name`` (one that turned out unusable), if there is one."""
        path = self._path(name)
        if path is not None:
            _remove(path)

    def write(self, name: str, body: bytes) -> Path | None:
        """Store ``body`` as entry ``name`` (mode 0600, atomically); its path, or ``None``
        where the cache is off or the write failed."""
        found = self._write(name, body)
        return None if found is None else _as_path(found)

    def store(self, name: str, body: bytes) -> bool:
        """:meth:`write` for a caller that needs no path (pathlib is imported for one):
        whether the entry was stored."""
        return self._write(name, body) is not None

    def _write(self, name: str, body: bytes) -> str | None:
        """:meth:`write` with the path as a string."""
        path = self._path(name)
        if path is None:
            return None
        temporary = os.path.join(os.path.dirname(path), _temporary_name(name))
        _remove(temporary)          # (left by a dead process that had this one's pid)
        try:
            with open(temporary, "wb", opener=_open_new) as f:
                f.write(body)
                f.write(TRAILER + sha256(body).digest())
            os.replace(temporary, path)
        except OSError:
            _remove(temporary)
            return None
        self.prune()
        return path

    # -- directory entries ------------------------------------------------------------

    def read_tree(self, name: str) -> Path | None:
        """The directory of entry ``name`` if every file its manifest lists still has its
        digest; ``None`` when there is none, it is damaged (then it is deleted) or not
        trusted. A hit marks the entry used."""
        path = self.path(name)
        if path is None:
            return None
        try:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode):
                return None
            why = unsafe(info)
            if why is not None:
                _refuse(path, why)
                return None
            manifest = _read_trusted(path / MANIFEST).decode().splitlines()
            ok = bool(manifest)
            for line in manifest:
                digest, _, file = line.partition(" ")
                if "/" in file or file.startswith(".") or sha256(_read_trusted(path / file)).hexdigest() != digest:
                    ok = False
                    break
        except (OSError, UnicodeDecodeError, _Untrusted):
            ok = False
        if ok:
            _touch(path)
            return path
        _remove(path)
        return None

    def write_tree(self, name: str, files: dict[str, bytes]) -> Path | None:
        """Store ``files`` (name: contents) as the directory entry ``name``, atomically (the
        directory is filled under a temporary name and renamed); its path, or ``None``
        where the cache is off or the write failed. Where another writer got there first,
        its (equal) entry stays."""
        path = self.path(name)
        if path is None:
            return None
        temporary = path.with_name(_temporary_name(name))
        _remove(temporary)
        try:
            os.mkdir(temporary, 0o700)
            lines = []
            for file, contents in files.items():
                if not file or file.startswith(".") or "/" in file:
                    raise ValueError(f"not a file name for a cache entry: {file!r}")
                with open(temporary / file, "wb", opener=_open_new) as f:
                    f.write(contents)
                lines.append(f"{sha256(contents).hexdigest()} {file}\n")
            with open(temporary / MANIFEST, "w", opener=_open_new) as f:
                f.write("".join(lines))
            try:
                os.rename(temporary, path)
            except OSError:
                if self.read_tree(name) is None:
                    raise
                _remove(temporary)
        except OSError:
            _remove(temporary)
            return None
        self.prune()
        return path

    # -- limits -----------------------------------------------------------------------

    def prune(self) -> None:
        """Keep the cache within its limits: past either, remove the least recently used
        entries down to three quarters of both; and temporary files a dead writer left."""
        directory = self._directory()
        if directory is None:
            return
        try:
            entries, now = [], time.time()
            for entry in os.scandir(directory):
                info = entry.stat(follow_symlinks=False)
                if entry.name.startswith("."):
                    if now - info.st_mtime > STALE_SECONDS:
                        _remove(entry.path)
                    continue
                size = _tree_size(entry.path) if stat.S_ISDIR(info.st_mode) else info.st_size
                entries.append((info.st_mtime_ns, size, entry.path))
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        if len(entries) <= self.max_entries and total <= self.max_bytes:
            return
        entries.sort()
        keep_entries, keep_bytes = self.max_entries * 3 // 4, self.max_bytes * 3 // 4
        for count, (_, size, path) in enumerate(entries):
            if len(entries) - count <= keep_entries and total <= keep_bytes:
                break
            _remove(path)
            total -= size


class _Untrusted(Exception):
    """A file in a directory entry that someone else could have written."""


def _open_no_follow(name: str, flags: int) -> int:
    return os.open(name, flags | os.O_NOFOLLOW)


def _open_new(name: str, flags: int) -> int:
    """Create ``name`` for writing, mode 0600 whatever the umask, failing if it exists."""
    fd = os.open(name, flags | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _read_trusted(path: Path) -> bytes:
    with open(path, "rb", opener=_open_no_follow) as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or unsafe(info) is not None:
            raise _Untrusted(path)
        return f.read()


def _tree_size(path: str) -> int:
    try:
        return sum(entry.stat(follow_symlinks=False).st_size for entry in os.scandir(path))
    except OSError:
        return 0


def _touch(path: str | os.PathLike[str]) -> None:
    """Mark an entry used (pruning removes the least recently used)."""
    try:
        os.utime(path)
    except OSError:
        pass
