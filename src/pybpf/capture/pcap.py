"""Reading capture files: classic pcap (both byte orders, micro- and nanosecond
timestamps) and pcapng (sections in either byte order, several interfaces, enhanced and
simple packet blocks; other blocks skipped by their length). Packets are read one at a
time from the file, so memory stays constant however large the capture."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from pybpf.errors import PybpfError

_PCAP_MAGICS = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}   # magic → nanoseconds per timestamp unit
_PCAPNG_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D


class CaptureError(PybpfError):
    """A capture file that is not what it claims: names the file, offset and problem."""


class Packet(NamedTuple):
    """One captured packet."""

    timestamp_ns: int
    data: bytes
    wirelen: int
    linktype: int
    interface: int = 0


def read_packets(path: str | Path) -> Iterator[Packet]:
    """Every packet of a pcap or pcapng file, in order."""
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open: {exc.strerror}") from None
    with stream:
        head = stream.read(4)
        if len(head) < 4:
            raise CaptureError(f"{path}: {len(head)} bytes is too short for a capture file")
        magic_le = struct.unpack("<I", head)[0]
        if magic_le == _PCAPNG_SHB:
            yield from _pcapng(str(path), stream, head)
            return
        for order in "<>":
            magic = struct.unpack(order + "I", head)[0]
            if magic in _PCAP_MAGICS:
                yield from _pcap(str(path), stream, order, _PCAP_MAGICS[magic])
                return
        raise CaptureError(f"{path}: magic 0x{magic_le:08x} is neither pcap nor pcapng")


def _read(stream: BinaryIO, size: int, path: str, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CaptureError(f"{path}: truncated {what} at byte {stream.tell() - len(data)} "
                           f"({len(data)} of {size} bytes)")
    return data


def _pcap(path: str, stream: BinaryIO, order: str, unit_ns: int) -> Iterator[Packet]:
    _major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "HHiIII", _read(stream, 20, path, "header"))
    linktype = network & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    while True:
        header = stream.read(16)
        if not header:
            return
        if len(header) < 16:
            raise CaptureError(f"{path}: truncated record header at byte {stream.tell() - len(header)}")
        seconds, fraction, caplen, wirelen = record.unpack(header)
        if caplen > max(snaplen, 262144) * 4:
            raise CaptureError(f"{path}: record at byte {stream.tell() - 16} claims {caplen} captured bytes")
        data = _read(stream, caplen, path, "packet")
        yield Packet(seconds * 1_000_000_000 + fraction * unit_ns, data, wirelen, linktype)


def _pcapng(path: str, stream: BinaryIO, head: bytes) -> Iterator[Packet]:
    order = "<"
    interfaces: list[tuple[int, int]] = []     # (linktype, ns per timestamp unit)
    block_type = struct.unpack("<I", head)[0]
    while True:
        start = stream.tell() - 4
        if block_type == _PCAPNG_SHB:
            raw_length = _read(stream, 4, path, "section header")
            magic = _read(stream, 4, path, "section header")
            order = "<" if struct.unpack("<I", magic)[0] == _BYTE_ORDER_MAGIC else ">"
            if struct.unpack(order + "I", magic)[0] != _BYTE_ORDER_MAGIC:
                raise CaptureError(f"{path}: byte {start}: bad byte-order magic in section header")
            length = struct.unpack(order + "I", raw_length)[0]
            body = _read(stream, length - 12, path, "section header")
            del body
            interfaces = []
        else:
            length = struct.unpack(order + "I", _read(stream, 4, path, "block"))[0]
            if length < 12 or length % 4:
                raise CaptureError(f"{path}: byte {start}: block length {length} is invalid")
            body = _read(stream, length - 12, path, "block")
            _read(stream, 4, path, "block trailer")
            if block_type == 1:                    # interface description
                linktype = struct.unpack_from(order + "H", body)[0]
                interfaces.append((linktype, _resolution(body[8:], order)))
            elif block_type in (6, 3):             # enhanced / simple packet
                if block_type == 6:
                    iface, high, low, caplen, wirelen = struct.unpack_from(order + "IIIII", body)
                    data = body[20:20 + caplen]
                else:
                    iface, high, low, wirelen = 0, 0, 0, struct.unpack_from(order + "I", body)[0]
                    data = body[4:4 + min(wirelen, len(body) - 4)]
                if iface >= len(interfaces):
                    raise CaptureError(f"{path}: byte {start}: packet for interface {iface}, but only "
                                       f"{len(interfaces)} are described")
                linktype, unit = interfaces[iface]
                yield Packet((high << 32 | low) * unit, bytes(data), wirelen, linktype, iface)
        nxt = stream.read(4)
        if not nxt:
            return
        if len(nxt) < 4:
            raise CaptureError(f"{path}: truncated block header at byte {stream.tell() - len(nxt)}")
        block_type = struct.unpack(order + "I", nxt)[0]


def _resolution(options: bytes, order: str) -> int:
    """Nanoseconds per timestamp unit from an interface's if_tsresol option (default µs)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            per_second = 2 ** (value & 0x7F) if value & 0x80 else 10 ** value
            return max(1, 1_000_000_000 // per_second)
        pos += 4 + ((length + 3) & ~3)
    return 1000
