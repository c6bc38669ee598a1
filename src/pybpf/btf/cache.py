"""A persistent index of large BTF blobs (a kernel's), so a new process reads the
running kernel's types without scanning and checking all ~130,000 of them again.

An entry is keyed by a digest of the whole blob, so any change to the BTF (another
kernel, a rebuilt one) is another entry. It holds what :mod:`pybpf.btf.table` computes
from the blob — where each type's record starts and the name index — and is written
only after the blob passed every check, so a hit skips them.

Entries are kept by :mod:`pybpf.cache` (``btf/`` under pybpf's cache root; its
environment switch, limits, checksums and ownership checks): a truncated, corrupt or
foreign file is ignored (and rewritten). Nothing here raises: a cache that cannot be read
or written is no cache.
"""

from __future__ import annotations

import struct
import sys
from array import array

from pybpf._digest import blake2b
from pybpf.btf.table import NameIndex
from pybpf.cache import DiskCache

#: blobs smaller than this are parsed directly (an object's BTF): hashing and reading a
#: file would cost more than it saves
MIN_SIZE = 1 << 20
#: the indexes (a few kernels': each entry is a few megabytes)
CACHE = DiskCache("btf", max_entries=8, max_bytes=256 << 20)

_MAGIC = b"PYBPFBTI"
_VERSION = 2
# magic, version, blob size, type section words, string section bytes, four array lengths
_HEADER = struct.Struct("<8sIQQQQQQQ")


def enabled(data: bytes) -> bool:
    return len(data) >= MIN_SIZE


def blob_key(data: bytes) -> str:
    return blake2b(data, digest_size=20).hexdigest()


def entry_name(key: str) -> str:
    return f"{key}.idx"


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
    raw = CACHE.read(entry_name(key))
    if raw is None or len(raw) < _HEADER.size:
        return None
    magic, version, e_size, e_words, e_strings, *lengths = _HEADER.unpack_from(raw)
    payload = memoryview(raw)[_HEADER.size:]
    if (magic != _MAGIC or version != _VERSION or (e_size, e_words, e_strings) != (size, words, strings)
            or len(payload) != 4 * sum(lengths)):
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
    # the cache's checksum vouches for the bytes; these vouch for the shape
    if (not offsets or len(starts) != len(keys) + 1 or (starts and starts[-1] != len(ids))
            or (len(offsets) > 1 and offsets[-1] >= words)):
        return None
    return offsets, NameIndex(keys, starts, ids)


def store(key: str, size: int, words: int, strings: int, offsets: array, index: NameIndex) -> None:
    """Write the entry for a blob (atomically; failures are ignored)."""
    arrays = [offsets, index.keys, index.starts, index.ids]
    payload = _arrays_bytes(arrays)
    header = _HEADER.pack(_MAGIC, _VERSION, size, words, strings, *(len(a) for a in arrays))
    CACHE.write(entry_name(key), header + payload)
