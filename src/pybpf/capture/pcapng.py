"""pcapng files (draft-ietf-opsawg-pcapng): sections in either byte order, several
interfaces each with its own link type, snapshot length and timestamp resolution
(``if_tsresol``, ``if_tsoffset``), and the three packet blocks — enhanced (EPB), simple
(SPB) and the obsolete packet block (PB, type 2). Other blocks are skipped by their
length. One block is in memory at a time, and blocks are capped in size, so memory stays
constant however large the file.

Checks follow libpcap's ``sf-pcapng.c``: section version 1.0 or 1.2, lengths that are
multiples of 4 and agree between header and trailer, options that stay inside their
block, packets that name a described interface and fit inside their block.
"""

from __future__ import annotations

import struct

from pybpf.capture._source import Source
from pybpf.capture.packet import Packet
from pybpf.capture.pcap import max_caplen

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import NamedTuple
else:                   # the same class, without typing (pybpf._namedtuple)
    from pybpf._namedtuple import NamedTuple

SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT, OPT_IF_TSRESOL, OPT_IF_TSOFFSET = 0, 9, 14
#: libpcap's initial block-size cap; raised for interfaces with larger snapshot lengths
_MAX_BLOCK = 16 * 1024 * 1024
_SHB_FIXED = 16          # byte-order magic, major, minor, section length


class Interface(NamedTuple):
    """One interface description of the current section."""

    linktype: int
    snaplen: int
    ticks_per_second: int        # timestamp resolution (from if_tsresol; default 10**6)
    offset_seconds: int          # if_tsoffset, added to every timestamp


def ticks_per_second(tsresol: int) -> int:
    """Timestamp units per second for an ``if_tsresol`` byte: 10**n, or 2**n when the
    high bit is set."""
    return 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10 ** tsresol


def is_pcapng(head: bytes) -> bool:
    """Whether the first four bytes open a pcapng section (the type is a palindrome)."""
    return head == struct.pack("<I", SHB)


class PcapngReader:
    """The packets of a pcapng file, in order, each with its interface's link type.

    The first section header and the interface descriptions before the first packet are
    read on construction, so ``linktype`` (the first interface's, as libpcap reports
    for the file; ``None`` if the file describes none) and ``snaplen`` are known up front.
    """

    def __init__(self, source: Source, head: bytes):
        self._source = source
        self.path = source.name
        self._order = "<"
        self.interfaces: list[Interface] = []
        self.section = 0
        self._start_section(0)
        # Read ahead to the first packet (or the end) so the file's link type is known.
        self._blocks = self._packets()
        self._first: Packet | None = next(self._blocks, None)
        first = self.interfaces[0] if self.interfaces else None
        self.linktype = first.linktype if first else None
        self.snaplen = first.snaplen if first else None
        self.byte_order = self._order

    def __iter__(self) -> Iterator[Packet]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._blocks

    # -- blocks --------------------------------------------------------------------------

    def _start_section(self, start: int) -> None:
        """Read a section header block whose type word (already read) began at ``start``."""
        source = self._source
        raw_length = source.read(4, "section header block")
        magic = source.read(4, "section header block")
        if struct.unpack("<I", magic)[0] == BYTE_ORDER_MAGIC:
            order = "<"
        elif struct.unpack(">I", magic)[0] == BYTE_ORDER_MAGIC:
            order = ">"
        else:
            raise source.error(start + 8, f"byte-order magic 0x{magic.hex()} is not 1a2b3c4d in either order")
        self._order = order
        length = struct.unpack(order + "I", raw_length)[0]
        self._check_length(start, length, 12 + _SHB_FIXED)
        body = source.read(length - 12 - 4, "section header block")
        major, minor = struct.unpack_from(order + "HH", body)
        if not (major == 1 and minor in (0, 2)):
            raise source.error(start + 12, f"unsupported pcapng savefile version {major}.{minor}")
        self._check_trailer(start, length)
        self._options(body, _SHB_FIXED - 4, start + 12)
        self.interfaces = []
        self.section += 1

    def _check_length(self, start: int, length: int, minimum: int) -> None:
        if length < minimum or length % 4:
            raise self._source.error(start + 4, f"block total length {length} is invalid "
                                                f"(at least {minimum} and a multiple of 4)")
        # like libpcap: 16 MiB, or more when an interface's link type allows larger packets
        limit = max([_MAX_BLOCK] + [max_caplen(i.linktype) + 128 for i in self.interfaces])
        if length > limit:
            raise self._source.error(start + 4, f"block total length {length} is larger than the "
                                                f"maximum of {limit}")

    def _check_trailer(self, start: int, length: int) -> None:
        trailer = struct.unpack(self._order + "I", self._source.read(4, "block trailer"))[0]
        if trailer != length:
            raise self._source.error(start + length - 4, f"block total length in header {length} and "
                                                           f"trailer {trailer} don't match")

    def _options(self, body: bytes, pos: int, body_offset: int) -> dict[int, bytes]:
        """The options from ``body[pos:]`` (first value of each code), checked to stay
        inside the block."""
        found: dict[int, bytes] = {}
        while pos < len(body):
            if pos + 4 > len(body):
                raise self._source.error(body_offset + pos, "option header runs past the end of its block")
            code, length = struct.unpack_from(self._order + "HH", body, pos)
            if code == OPT_ENDOFOPT:
                break
            end = pos + 4 + length
            if end > len(body):
                raise self._source.error(body_offset + pos, f"option {code} of length {length} runs past "
                                                            f"the end of its block")
            found.setdefault(code, body[pos + 4:end])
            pos = pos + 4 + ((length + 3) & ~3)
        return found

    def _packets(self) -> Iterator[Packet]:
        source = self._source
        while True:
            start = source.offset
            head = source.read_some(4)
            if not head:
                return
            if len(head) < 4:
                raise source.error(start, f"truncated block header ({len(head)} of 8 bytes)")
            if is_pcapng(head):
                self._start_section(start)
                continue
            block_type = struct.unpack(self._order + "I", head)[0]
            length = struct.unpack(self._order + "I", source.read(4, "block header"))[0]
            self._check_length(start, length, 12)
            body = source.read(length - 12, f"block of type {block_type}")
            self._check_trailer(start, length)
            packet = self._block(block_type, body, start)
            if packet is not None:
                yield packet

    def _block(self, block_type: int, body: bytes, start: int) -> Packet | None:
        order, body_offset = self._order, start + 8
        if block_type == IDB:
            if len(body) < 8:
                raise self._source.error(start, f"interface description block body is {len(body)} bytes, "
                                                f"less than 8")
            linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body)
            options = self._options(body, 8, body_offset)
            resolution = options.get(OPT_IF_TSRESOL, b"\x06")
            offset = options.get(OPT_IF_TSOFFSET)
            if len(resolution) != 1 or (offset is not None and len(offset) != 8):
                raise self._source.error(start, "if_tsresol must be 1 byte and if_tsoffset 8 bytes")
            ticks = ticks_per_second(resolution[0])
            if ticks == 0 or (resolution[0] & 0x7F) > (63 if resolution[0] & 0x80 else 19):
                raise self._source.error(start, f"if_tsresol {resolution[0]:#x} is out of range")
            seconds = struct.unpack(order + "q", offset)[0] if offset else 0
            self.interfaces.append(Interface(linktype, snaplen, ticks, seconds))
            return None
        if block_type == EPB:
            if len(body) < 20:
                self._short(start, block_type, 20)
            index, high, low, caplen, wirelen = struct.unpack_from(order + "IIIII", body)
            return self._packet(body, start, index, high, low, caplen, wirelen, header=20)
        if block_type == PB:
            if len(body) < 20:
                self._short(start, block_type, 20)
            iface, _drops, high, low, caplen, wirelen = struct.unpack_from(order + "HHIIII", body)
            return self._packet(body, start, iface, high, low, caplen, wirelen, header=20)
        if block_type == SPB:
            if len(body) < 4:
                self._short(start, block_type, 4)
            wirelen = struct.unpack_from(order + "I", body)[0]
            iface = self._interface(0, start)
            caplen = min(wirelen, iface.snaplen) if iface.snaplen else wirelen
            return self._packet(body, start, 0, 0, 0, min(caplen, len(body) - 4), wirelen, header=4)
        return None

    def _short(self, start: int, block_type: int, needed: int) -> None:
        raise self._source.error(start, f"block of type {block_type} is too short for its {needed}-byte header")

    def _interface(self, index: int, start: int) -> Interface:
        if index >= len(self.interfaces):
            raise self._source.error(start, f"packet for interface {index}, but this section describes "
                                            f"only {len(self.interfaces)}")
        return self.interfaces[index]

    def _packet(self, body: bytes, start: int, index: int, high: int, low: int, caplen: int, wirelen: int,
                header: int) -> Packet:
        iface = self._interface(index, start)
        if header + caplen > len(body):
            raise self._source.error(start, f"captured length {caplen} runs past the end of its block "
                                            f"({len(body) - header} bytes of packet data)")
        if caplen > max_caplen(iface.linktype):
            raise self._source.error(start, f"captured length {caplen} is more than the maximum of "
                                            f"{max_caplen(iface.linktype)}")
        ticks = high << 32 | low
        timestamp = iface.offset_seconds * 1_000_000_000 + ticks * 1_000_000_000 // iface.ticks_per_second
        return Packet(timestamp, body[header:header + caplen], wirelen, iface.linktype, index)
