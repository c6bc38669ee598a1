"""A persistent index of large BTF blobs (a kernel's), so a new process reads the
running kernel's types without scanning and checking all ~130,000 of them again.

An entry is keyed by a digest of the whole blob, so any change to the BTF (another
kernel, a rebuilt one) is another entry. It holds what :mod:`pybpf.btf.table` computes
from the blob — where each type's record starts and the name index — and is written
only after the blob passed every check, so a hit skips them. The entry's own contents
carry a digest too: a truncated, corrupt or foreign file is ignored (and rewritten).

Entries live in ``$XDG_CACHE_HOME/pybpf/btf`` (else ``~/.cache/pybpf/btf``, beside the
compile cache); ``PYBPF_BTF_CACHE=0`` turns the cache off. Nothing here raises: a cache
that cannot be read or written is no cache.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import tempfile
from array import array
from pathlib import Path

from pybpf.btf.table import NameIndex

#: blobs smaller than this are parsed directly (an object's BTF): hashing and reading a
#: file would cost more than it saves
MIN_SIZE = 1 << 20
#: entries kept; the oldest are removed beyond this
MAX_ENTRIES = 8
ENV = "PYBPF_BTF_CACHE"

_MAGIC = b"PYBPFBTI"
_VERSION = 1
# magic, version, blob size, type section words, string section bytes, four array lengths,
# payload digest
_HEADER = struct.Struct("<8sIQQQQQQQ32s")


def cache_dir() -> Path:
    """Where entries are kept (as :func:`pybpf.toolchain.paths.cache_root`, which this
    package does not import: it depends only on :mod:`pybpf.errors`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybpf" / "btf"


def enabled(data: bytes) -> bool:
    return len(data) >= MIN_SIZE and os.environ.get(ENV, "1") not in ("0", "off", "no", "false")


def blob_key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def entry_path(key: str) -> Path:
    return cache_dir() / f"{key}.idx"


def _arrays_bytes(arrays: list[array]) -> bytes:
    if sys.byteorder == "little":
        return b"".join(a.tobytes() for a in arrays)
    out = []
    for a in arrays:
        b = array("I", a)
        b.byteswap()
        out.append(b.tobytes())
    return b"".join(out)


def load(key: str, size: int, words: int, strings: int) -> tuple[array, NameIndex] | None:
    """The offsets and name index stored for the blob with digest ``key`` (``size``
    bytes, ``words`` type-section words, ``strings`` string-section bytes), or None when
    there is no usable entry."""
    try:
        raw = entry_path(key).read_bytes()
    except OSError:
        return None
    if len(raw) < _HEADER.size:
        return None
    magic, version, e_size, e_words, e_strings, *lengths, digest = _HEADER.unpack_from(raw)
    payload = memoryview(raw)[_HEADER.size:]
    if (magic != _MAGIC or version != _VERSION or (e_size, e_words, e_strings) != (size, words, strings)
            or len(payload) != 4 * sum(lengths) or hashlib.blake2b(payload, digest_size=32).digest() != digest):
        return None
    arrays, pos = [], 0
    for length in lengths:
        a = array("I")
        a.frombytes(payload[pos:pos + 4 * length])
        if sys.byteorder != "little":
            a.byteswap()
        arrays.append(a)
        pos += 4 * length
    offsets, keys, starts, ids = arrays
    # the digest vouches for the bytes; these vouch for the shape
    if (not offsets or len(starts) != len(keys) + 1 or (starts and starts[-1] != len(ids))
            or (len(offsets) > 1 and offsets[-1] >= words)):
        return None
    return offsets, NameIndex(keys, starts, ids)


def store(key: str, size: int, words: int, strings: int, offsets: array, index: NameIndex) -> None:
    """Write the entry for a blob (atomically; failures are ignored)."""
    arrays = [offsets, index.keys, index.starts, index.ids]
    payload = _arrays_bytes(arrays)
    header = _HEADER.pack(_MAGIC, _VERSION, size, words, strings, *(len(a) for a in arrays),
                          hashlib.blake2b(payload, digest_size=32).digest())
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False, suffix=".tmp") as tmp:
            tmp.write(header + payload)
        os.replace(tmp.name, entry_path(key))
    except OSError:
        try:
            os.unlink(tmp.name)  # type: ignore[possibly-undefined]
        except (OSError, NameError):
            pass
        return
    _prune(directory)


def _prune(directory: Path) -> None:
    try:
        entries = sorted(directory.glob("*.idx"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[MAX_ENTRIES:]:
            stale.unlink()
    except OSError:
        pass
