"""Converting Python keys and values to a map's bytes and back, decided once per map.

Every map builds two codecs when it is opened; the dict-like layer calls them on every
access, so the choice (int of the map's size, a ``struct`` format, a ctypes type, raw
bytes, an LPM trie key) is made once rather than per operation. All codecs also accept
a bytes-like value of exactly the right size on the way in, unchanged.
"""

from __future__ import annotations

import ctypes
import functools
import struct
import sys
from collections.abc import Sequence

from pybpf.errors import CodecError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

_CTYPES_BASES = (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)


class Codec:
    """Bytes in, bytes out: the raw codec, and the base the others build on."""

    def __init__(self, size: int, where: str):
        self.size = size
        self.where = where

    def encode(self, value: Any) -> bytes:
        """``value`` as exactly :attr:`size` bytes; :class:`CodecError` when it does not fit."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if len(data) != self.size:
                raise CodecError(f"{self.where}: {len(data)} bytes given, {self.size} expected")
            return data
        return self._encode(value)

    def decode(self, data: bytes) -> Any:
        """The Python value of :attr:`size` bytes."""
        return data

    def _encode(self, value: Any) -> bytes:
        raise CodecError(f"{self.where}: expected {self.size} bytes, got {type(value).__name__}")


class IntCodec(Codec):
    """An integer of the map's key or value size, in host byte order (as the CPU reads it)."""

    def __init__(self, size: int, where: str, signed: bool = False):
        super().__init__(size, where)
        self.signed = signed

    def encode(self, value: Any) -> bytes:
        if type(value) is int and 0 <= value < 1 << (8 * self.size) and not self.signed:
            return value.to_bytes(self.size, sys.byteorder)  # the common case, first
        return super().encode(value)

    def _encode(self, value: Any) -> bytes:
        if not isinstance(value, int):
            raise CodecError(f"{self.where}: expected an int or {self.size} bytes, "
                             f"got {type(value).__name__}")
        try:
            return value.to_bytes(self.size, sys.byteorder, signed=self.signed)
        except OverflowError:
            raise CodecError(f"{self.where}: {value} does not fit in {self.size} bytes") from None

    def decode(self, data: bytes) -> int:
        return int.from_bytes(data, sys.byteorder, signed=self.signed)


class StructCodec(Codec):
    """A ``struct`` format: tuples in and out, or a bare value when it has one field."""

    def __init__(self, fmt: str, size: int, where: str):
        super().__init__(size, where)
        self.struct = struct.Struct(fmt)
        if self.struct.size != size:
            raise CodecError(f"{where}: format {fmt!r} is {self.struct.size} bytes, "
                             f"the map's is {size}")
        self.single = len(self.struct.unpack(bytes(size))) == 1

    def _encode(self, value: Any) -> bytes:
        fields = (value,) if self.single and not isinstance(value, tuple) else value
        try:
            return self.struct.pack(*fields)
        except (struct.error, TypeError) as exc:
            raise CodecError(f"{self.where}: {value!r} does not pack as "
                             f"{self.struct.format!r}: {exc}") from None

    def decode(self, data: bytes) -> Any:
        fields = self.struct.unpack(data)
        return fields[0] if self.single else fields


class CtypesCodec(Codec):
    """A ctypes type (Structure, array, c_uint32...): instances in, instances out."""

    def __init__(self, ctype: type, size: int, where: str):
        super().__init__(size, where)
        if ctypes.sizeof(ctype) != size:
            raise CodecError(f"{where}: {ctype.__name__} is {ctypes.sizeof(ctype)} bytes, "
                             f"the map's is {size}")
        self.ctype = ctype

    def _encode(self, value: Any) -> bytes:
        if isinstance(value, self.ctype):
            return bytes(value)
        try:
            return bytes(self.ctype(value))
        except TypeError:
            raise CodecError(f"{self.where}: expected {self.ctype.__name__}, "
                             f"got {type(value).__name__}") from None

    def decode(self, data: bytes) -> Any:
        return self.ctype.from_buffer_copy(data)


class LpmKeyCodec(Codec):
    """An LPM trie key: a 4-byte prefix length and the address bytes (network order).

    Accepts ``("10.0.0.0", 8)``, ``ipaddress.ip_network("10.0.0.0/8")``, or
    ``(bytes, prefixlen)``; decodes to an ``ipaddress`` network when the data is 4 or 16
    bytes and to ``(bytes, prefixlen)`` otherwise.
    """

    def _encode(self, value: Any) -> bytes:
        import ipaddress  # here, not at the top: most maps are no LPM tries (~1 ms of a start-up)

        data_len = self.size - 4
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            data, prefix = value.network_address.packed, value.prefixlen
        elif isinstance(value, Sequence) and len(value) == 2 and isinstance(value[1], int):
            addr, prefix = value
            if isinstance(addr, str):
                try:
                    data = ipaddress.ip_address(addr).packed
                except ValueError as exc:
                    raise CodecError(f"{self.where}: {exc}") from None
            elif isinstance(addr, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
                data = addr.packed
            else:
                data = bytes(addr)
        else:
            raise CodecError(f"{self.where}: an LPM key is (address, prefixlen) or an "
                             f"ipaddress network, not {value!r}")
        if len(data) != data_len:
            raise CodecError(f"{self.where}: {len(data)} address bytes, the trie's keys "
                             f"hold {data_len}")
        if not 0 <= prefix <= 8 * data_len:
            raise CodecError(f"{self.where}: prefix length {prefix} is not in 0..{8 * data_len}")
        return prefix.to_bytes(4, sys.byteorder) + data

    def decode(self, data: bytes) -> Any:
        import ipaddress

        prefix = int.from_bytes(data[:4], sys.byteorder)
        body = data[4:]
        if len(body) in (4, 16):
            return ipaddress.ip_network((body, prefix), strict=False)
        return body, prefix


class BTFCodec(Codec):
    """A struct, union or array the program's BTF describes: records with named fields
    out (:class:`pybpf.btf.Record`), mappings (or those records) in."""

    def __init__(self, btf: Any, type_id: int, size: int, where: str):
        super().__init__(size, where)
        if btf.sizeof(type_id) != size:
            raise CodecError(f"{where}: its BTF type is {btf.sizeof(type_id)} bytes, the map's are {size}")
        self.btf = btf
        self.type_id = type_id

    def _encode(self, value: Any) -> bytes:
        from pybpf.btf import BTFError, encode

        try:
            return encode(self.btf, self.type_id, value)
        except BTFError as exc:
            raise CodecError(f"{self.where}: {exc}") from None

    def decode(self, data: bytes) -> Any:
        from pybpf.btf import decode

        return decode(self.btf, self.type_id, data)


def btf_codec(btf_data: bytes | None, type_id: int, size: int, where: str) -> Codec | None:
    """A :class:`BTFCodec` when the map's BTF describes this key or value as a struct,
    union or array (integers keep the plain integer codec), else None."""
    if not btf_data or not type_id:
        return None
    from pybpf.btf import Kind

    btf = _parsed(btf_data)
    if btf.resolve(type_id).kind not in (Kind.STRUCT, Kind.UNION, Kind.ARRAY):
        return None
    return BTFCodec(btf, type_id, size, where)


@functools.lru_cache(maxsize=16)
def _parsed(btf_data: bytes) -> Any:
    """An object's BTF parsed once, however many of its maps are opened."""
    from pybpf.btf import BTF

    return BTF.parse(btf_data)


def make_codec(kind: Any, size: int, where: str) -> Codec:
    """The codec for ``kind``: None (int for 1/2/4/8 bytes, else bytes), ``int``,
    ``bytes``, a ``struct`` format string, a ctypes type, or a ready :class:`Codec`."""
    if isinstance(kind, Codec):
        if kind.size != size:
            raise CodecError(f"{where}: the codec is for {kind.size} bytes, the map's are {size}")
        return kind
    if kind is None:
        return IntCodec(size, where) if size in (1, 2, 4, 8) else Codec(size, where)
    if kind is int:
        if size not in (1, 2, 4, 8):
            raise CodecError(f"{where}: {size} bytes is not an integer size (1, 2, 4 or 8)")
        return IntCodec(size, where)
    if kind is bytes:
        return Codec(size, where)
    if isinstance(kind, str):
        try:
            return StructCodec(kind, size, where)
        except struct.error as exc:
            raise CodecError(f"{where}: bad struct format {kind!r}: {exc}") from None
    if isinstance(kind, type) and issubclass(kind, _CTYPES_BASES):
        return CtypesCodec(kind, size, where)
    raise CodecError(f"{where}: {kind!r} is not a key/value type (int, bytes, a struct "
                     "format, a ctypes type or a Codec)")


class PerCpuCodec(Codec):
    """One value per possible CPU, each padded to 8 bytes, as a list.

    Encoding takes a list with one value per CPU, or a single value for every CPU.
    """

    def __init__(self, inner: Codec, ncpus: int):
        self.stride = (inner.size + 7) & ~7
        super().__init__(self.stride * ncpus, inner.where)
        self.inner = inner
        self.ncpus = ncpus
        self._pad = bytes(self.stride - inner.size)

    def encode(self, value: Any) -> bytes:
        if isinstance(value, list):
            if len(value) != self.ncpus:
                raise CodecError(f"{self.where}: {len(value)} per-CPU values given, the "
                                 f"system has {self.ncpus} possible CPUs")
            return b"".join(self.inner.encode(v) + self._pad for v in value)
        return (self.inner.encode(value) + self._pad) * self.ncpus

    def decode(self, data: bytes) -> list[Any]:
        size, stride = self.inner.size, self.stride
        return [self.inner.decode(data[i:i + size]) for i in range(0, len(data), stride)]
