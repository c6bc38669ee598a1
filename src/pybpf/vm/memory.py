"""The vm's memory: a few regions (the input memory or packet, one stack per call frame,
map values, context structures), each with a base address, a size and permissions.

Programs see realistic 64-bit addresses, so pointer arithmetic works as in the kernel;
every load and store is checked against the regions, and nothing a program does can reach
Python's own memory. Other parts of the engine (map helpers, contexts, the JIT) add
regions with :meth:`Memory.map`.
"""

from __future__ import annotations

import struct

from pybpf.vm.errors import VMError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: where the input memory (or packet) of a run is placed
INPUT_BASE = 0x0000_0001_0000_0000
#: stacks grow down from here, one 64 KiB-aligned slot per call frame
STACK_TOP = 0x0000_7FFF_0000_0000
#: map values and other regions the engine hands to programs start here
DYNAMIC_BASE = 0x0000_0002_0000_0000

_UNSIGNED = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}
_SIGNED = {1: struct.Struct("<b"), 2: struct.Struct("<h"), 4: struct.Struct("<i")}
_BIG = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}


@dataclass
class Region:
    """A block of memory a program may reach."""

    base: int
    data: bytearray
    writable: bool
    name: str
    #: accesses must be aligned to their size (the kernel requires it on the stack)
    aligned: bool = False
    #: context fields whose 4-byte loads yield full pointers (``__sk_buff.data`` and the
    #: like, which the kernel rewrites into pointer loads): offset → value
    pointers: dict[int, int] | None = None
    #: an array of values (a map's block) as (stride, value size): an access must stay
    #: inside one value, as it must in a region of its own
    element: tuple[int, int] | None = None

    @property
    def end(self) -> int:
        """One past the last address."""
        return self.base + len(self.data)


class Memory:
    """The regions of one run. Lookups scan a short list, most recent hit first."""

    def __init__(self) -> None:
        self.regions: list[Region] = []
        self._next_dynamic = DYNAMIC_BASE
        #: changes with every map and unmap (the JIT mirrors the regions natively)
        self.version = 0

    def map(self, data: bytearray, *, writable: bool, name: str, base: int | None = None,
            aligned: bool = False) -> int:
        """Make ``data`` reachable at ``base`` (or the next free dynamic address); the
        program's writes go straight into ``data``; ``aligned`` refuses misaligned
        accesses. Returns the base address."""
        if base is None:
            base = self._next_dynamic
            self._next_dynamic += (len(data) + 0xFFF) & ~0xFFF or 0x1000
        self.regions.insert(0, Region(base, data, writable, name, aligned))
        self.version += 1
        return base

    def unmap(self, *bases: int) -> None:
        """Remove the regions at ``bases`` (a returning call frame's stack)."""
        self.regions = [r for r in self.regions if r.base not in bases]
        self.version += 1

    def region(self, address: int, size: int, write: bool, access: bool = True) -> tuple[Region, int]:
        """The region holding ``size`` bytes at ``address`` and the offset in it;
        ``access`` is a program's load or store (alignment rules apply), not a helper's
        buffer."""
        for region in self.regions:
            if region.base <= address < region.end:
                offset = address - region.base
                element = region.element
                if offset + size > len(region.data) or element and offset % element[0] + size > element[1]:
                    raise VMError(f"out-of-bounds {'write' if write else 'read'} of {size} bytes at "
                                  f"0x{address:x}: region {region.name!r} is 0x{region.base:x}-0x{region.end:x}")
                if access and region.aligned and address % size:
                    raise VMError(f"misaligned {'write' if write else 'read'} of {size} bytes at 0x{address:x} "
                                  f"in {region.name} (offset {offset - len(region.data)} from its top): "
                                  "stack accesses must be aligned to their size")
                if write and not region.writable:
                    raise VMError(f"write of {size} bytes at 0x{address:x} into read-only region {region.name!r}")
                return region, offset
        raise VMError(f"invalid {'write' if write else 'read'} of {size} bytes at 0x{address:x}: "
                      "no memory there (not the stack, the input, or a map value)")

    def load(self, address: int, size: int) -> int:
        """An unsigned little-endian load (a context's pointer fields give pointers)."""
        region, offset = self.region(address, size, False)
        if region.pointers is not None and offset in region.pointers:
            return region.pointers[offset]
        return _UNSIGNED[size].unpack_from(region.data, offset)[0]

    def load_signed(self, address: int, size: int) -> int:
        """A sign-extending load (result as a signed int)."""
        region, offset = self.region(address, size, False)
        return _SIGNED[size].unpack_from(region.data, offset)[0]

    def load_big_endian(self, address: int, size: int) -> int:
        """A network-order load (the legacy packet loads)."""
        region, offset = self.region(address, size, False)
        return _BIG[size].unpack_from(region.data, offset)[0]

    def store(self, address: int, size: int, value: int) -> None:
        """A little-endian store of the low ``size`` bytes of ``value``."""
        region, offset = self.region(address, size, True)
        _UNSIGNED[size].pack_into(region.data, offset, value & ((1 << (8 * size)) - 1))

    def check(self, address: int, size: int, write: bool) -> None:
        """Raise the VMError an access of ``size`` bytes at ``address`` would raise (helpers
        checking a buffer before filling it)."""
        self.region(address, max(size, 1), write, access=False)

    def read_bytes(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address`` (helpers reading buffers)."""
        region, offset = self.region(address, size, False, access=False)
        return bytes(region.data[offset:offset + size])

    def write_bytes(self, address: int, data: bytes) -> None:
        """Copy ``data`` to ``address`` (helpers filling a program's buffer)."""
        region, offset = self.region(address, len(data), True, access=False)
        region.data[offset:offset + len(data)] = data

    def read_string(self, address: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string at ``address`` (without the NUL), within one region."""
        region, offset = self.region(address, 1, False, access=False)
        end = bytes(region.data[offset:offset + limit]).find(b"\0")
        end = end + offset if end >= 0 else -1
        if end < 0:
            raise VMError(f"string at 0x{address:x} is not NUL-terminated within region {region.name!r}")
        return bytes(region.data[offset:end])
