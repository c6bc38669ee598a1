"""Writing pcap and pcapng files.

Given a path, a writer writes to a temporary file beside it and renames it into place
only when closed without error, so an interrupted or failed write never leaves a
half-written file under the name a reader would trust. Given a stream, it writes
straight to the stream and leaves closing it to the caller.
"""

from __future__ import annotations

import os
import struct
import weakref
from abc import ABC, abstractmethod

from pybpf._files import new_file_mode, new_private_file
from pybpf.capture.packet import CaptureError, Packet
from pybpf.capture.pcap import MAGIC_MICRO, MAGIC_NANO
from pybpf.capture.pcapng import BYTE_ORDER_MAGIC, EPB, IDB, OPT_IF_TSRESOL, SHB

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO

_ORDERS = {"little": "<", "big": ">", "native": "="}
DEFAULT_SNAPLEN = 262144


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _AtomicOutput:
    """A binary stream that becomes ``path`` only on :meth:`commit`; :meth:`abort` (or
    the object being collected uncommitted) deletes the temporary file. The file gets
    the permissions a file written in place would have (:func:`pybpf._files.new_file_mode`:
    0644 with the usual umask, as tcpdump's ``-w`` files — not mkstemp's private 0600)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        try:
            fd, self.temp = new_private_file(os.path.dirname(self.path) or ".",
                                             prefix=f".{os.path.basename(self.path)}.", suffix=".part")
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot create: {exc.strerror}") from None
        try:
            os.fchmod(fd, new_file_mode(self.path))
        except OSError:
            pass                            # e.g. a filesystem without modes: keep mkstemp's
        self.stream = os.fdopen(fd, "wb")
        self._cleanup = weakref.finalize(self, _remove, self.temp)

    def commit(self) -> None:
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.temp, self.path)
        except OSError as exc:
            self.abort()
            raise CaptureError(f"{self.path}: cannot write: {exc.strerror}") from None
        self._cleanup.detach()

    def abort(self) -> None:
        self.stream.close()
        self._cleanup()


class _Writer(ABC):
    """What both formats share: output handling, checks on packets, context management."""

    def __init__(self, path_or_stream: str | os.PathLike | BinaryIO, linktype: int, snaplen: int,
                 nanosecond: bool, byte_order: str):
        if byte_order not in _ORDERS:
            raise CaptureError(f"byte order {byte_order!r} is not one of {', '.join(_ORDERS)}")
        if not 0 <= linktype <= 0xFFFF:
            raise CaptureError(f"link type {linktype} does not fit the 16 bits capture files give it")
        if not 0 < snaplen <= 0xFFFF_FFFF:
            raise CaptureError(f"snapshot length {snaplen} is not a positive 32-bit number")
        self.linktype, self.snaplen, self.nanosecond = linktype, snaplen, nanosecond
        self._order = _ORDERS[byte_order]
        if isinstance(path_or_stream, (str, os.PathLike)):
            self._atomic: _AtomicOutput | None = _AtomicOutput(path_or_stream)
            self._stream: BinaryIO = self._atomic.stream
            self.name = str(path_or_stream)
        else:
            self._atomic, self._stream = None, path_or_stream
            self.name = getattr(path_or_stream, "name", "<stream>")
        self.closed = False
        self.count = 0

    def _emit(self, data: bytes | memoryview) -> None:
        if self.closed:
            raise CaptureError(f"{self.name}: write after close")
        try:
            self._stream.write(data)
        except OSError as exc:
            raise CaptureError(f"{self.name}: cannot write: {exc.strerror}") from None

    def _clip(self, data: bytes, wirelen: int | None, snaplen: int) -> tuple[bytes, int]:
        """The captured part of ``data`` (at most ``snaplen`` bytes, as a capture would
        keep) and the wire length (the data's own length unless given)."""
        wirelen = len(data) if wirelen is None else wirelen
        if wirelen < 0 or wirelen > 0xFFFF_FFFF:
            raise CaptureError(f"{self.name}: packet {self.count}: wire length {wirelen} does not fit 32 bits")
        return bytes(data[:snaplen]), wirelen

    @abstractmethod
    def write(self, data: bytes, timestamp_ns: int = 0, wirelen: int | None = None,
              linktype: int | None = None) -> None:
        """Append one packet. ``data`` longer than the snapshot length is cut to it (the
        wire length still says how long it was)."""

    def write_packet(self, packet: Packet) -> None:
        """Append a :class:`Packet` as read from a file or a live capture."""
        self.write(packet.data, packet.timestamp_ns, packet.wirelen, packet.linktype)

    def extend(self, packets: Iterable[Packet]) -> None:
        """Append every packet of an iterable (e.g. a filtered read of another file)."""
        for packet in packets:
            self.write_packet(packet)

    def close(self) -> None:
        """Finish the file: flush, and (for a path) rename it into place."""
        if self.closed:
            return
        self.closed = True
        if self._atomic is not None:
            self._atomic.commit()
        else:
            self._stream.flush()

    def abort(self) -> None:
        """Give up: for a path, delete the partial file; the target is left untouched."""
        if self.closed:
            return
        self.closed = True
        if self._atomic is not None:
            self._atomic.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class PcapWriter(_Writer):
    """A classic pcap file: one link type, micro- or nanosecond timestamps, seconds that
    fit 32 unsigned bits (1970–2106)."""

    def __init__(self, path_or_stream: str | os.PathLike | BinaryIO, linktype: int,
                 snaplen: int = DEFAULT_SNAPLEN, nanosecond: bool = False, byte_order: str = "native"):
        super().__init__(path_or_stream, linktype, snaplen, nanosecond, byte_order)
        self._record = struct.Struct(self._order + "IIII")
        magic = MAGIC_NANO if nanosecond else MAGIC_MICRO
        try:
            self._emit(struct.pack(self._order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        except BaseException:
            self.abort()
            raise

    def write(self, data: bytes, timestamp_ns: int = 0, wirelen: int | None = None,
              linktype: int | None = None) -> None:
        if linktype is not None and linktype != self.linktype:
            raise CaptureError(f"{self.name}: packet {self.count} has link type {linktype}, but a pcap file "
                               f"holds only its header's ({self.linktype}); use PcapngWriter")
        seconds, rest = divmod(timestamp_ns, 1_000_000_000)
        if not 0 <= seconds <= 0xFFFF_FFFF:
            raise CaptureError(f"{self.name}: packet {self.count}: timestamp {timestamp_ns} ns is outside "
                               f"what pcap's 32-bit seconds hold; use PcapngWriter")
        captured, wirelen = self._clip(data, wirelen, self.snaplen)
        fraction = rest if self.nanosecond else rest // 1000
        self._emit(self._record.pack(seconds, fraction, len(captured), wirelen) + captured)
        self.count += 1

    def write_records(self, records: bytes | memoryview, count: int) -> None:
        """Append ``count`` records already encoded as this file stores them (16-byte
        headers in its byte order and timestamp unit, then the data): records copied
        from another pcap file of the same kind, undecoded, as ``pybpf filter -w`` copies
        the ones its filter accepts (see :meth:`pybpf.pcapfilter.batch.RecordBatch.gather`)."""
        self._emit(records)
        self.count += count


class PcapngWriter(_Writer):
    """A pcapng file: one section, one interface description per (link type, snapshot
    length) the packets use, and enhanced packet blocks. With ``nanosecond`` the
    interfaces say ``if_tsresol`` 9; otherwise the default microseconds."""

    def __init__(self, path_or_stream: str | os.PathLike | BinaryIO, linktype: int = 1,
                 snaplen: int = DEFAULT_SNAPLEN, nanosecond: bool = False, byte_order: str = "native"):
        super().__init__(path_or_stream, linktype, snaplen, nanosecond, byte_order)
        self._interfaces: dict[tuple[int, int], int] = {}
        self._ticks = 1_000_000_000 if nanosecond else 1_000_000
        try:
            body = struct.pack(self._order + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
            self._emit(self._block(SHB, body))
        except BaseException:
            self.abort()
            raise

    def _block(self, block_type: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        length = len(body) + 12
        return struct.pack(self._order + "II", block_type, length) + body + struct.pack(self._order + "I", length)

    def _interface(self, linktype: int, snaplen: int) -> int:
        """The index of the interface for (linktype, snaplen), described on first use."""
        key = (linktype, snaplen)
        if key not in self._interfaces:
            if not 0 <= linktype <= 0xFFFF:
                raise CaptureError(f"{self.name}: packet {self.count}: link type {linktype} does not fit 16 bits")
            body = struct.pack(self._order + "HHI", linktype, 0, snaplen)
            if self.nanosecond:
                body += struct.pack(self._order + "HHB3x", OPT_IF_TSRESOL, 1, 9) + struct.pack(self._order + "I", 0)
            self._emit(self._block(IDB, body))
            self._interfaces[key] = len(self._interfaces)
        return self._interfaces[key]

    def write(self, data: bytes, timestamp_ns: int = 0, wirelen: int | None = None,
              linktype: int | None = None, snaplen: int | None = None) -> None:
        """Append one packet; ``linktype``/``snaplen`` default to the writer's and pick
        (or describe) its interface."""
        snaplen = self.snaplen if snaplen is None else snaplen
        captured, wirelen = self._clip(data, wirelen, snaplen)
        if timestamp_ns < 0:
            raise CaptureError(f"{self.name}: packet {self.count}: negative timestamp {timestamp_ns} ns")
        ticks = timestamp_ns * self._ticks // 1_000_000_000
        if ticks >> 64:
            raise CaptureError(f"{self.name}: packet {self.count}: timestamp {timestamp_ns} ns overflows 64 bits")
        index = self._interface(self.linktype if linktype is None else linktype, snaplen)
        body = struct.pack(self._order + "IIIII", index, ticks >> 32, ticks & 0xFFFF_FFFF, len(captured),
                           wirelen) + captured
        self._emit(self._block(EPB, body))
        self.count += 1
