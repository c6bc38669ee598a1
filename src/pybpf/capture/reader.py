"""Opening a capture file of either format: the first four bytes say which."""

from __future__ import annotations

import os

from pybpf.capture._source import Source
from pybpf.capture.packet import Packet
from pybpf.capture.pcap import FILE_HEADER_SIZE, PcapReader, pcap_byte_order

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

    from pybpf.capture.pcapng import PcapngReader


class CaptureFile:
    """An open capture file (pcap or pcapng): iterate it for packets, close it after.

    ``format`` is ``"pcap"`` or ``"pcapng"``; ``linktype`` and ``snaplen`` are the file's
    (for pcapng, its first interface's, ``None`` if it describes none); every
    :class:`Packet` carries its own link type as well. Header errors are raised here,
    record errors while iterating; both are :class:`CaptureError`.
    """

    def __init__(self, path_or_stream: str | os.PathLike | BinaryIO):
        self._source = Source(path_or_stream)
        self.path = self._source.name
        self._reader: PcapReader | PcapngReader
        try:
            head = self._source.read_some(4)
            if len(head) < 4:
                raise self._source.error(0, f"{len(head)} bytes is too short for a capture file")
            if pcap_byte_order(head):
                self.format, self._reader = "pcap", PcapReader(self._source, head)
            else:
                # the pcapng reader for pcapng files only (the two magics differ)
                from pybpf.capture.pcapng import PcapngReader, is_pcapng

                if not is_pcapng(head):
                    raise self._source.error(0, f"magic 0x{head.hex()} is neither pcap nor pcapng")
                self.format, self._reader = "pcapng", PcapngReader(self._source, head)
        except BaseException:
            self._source.close()
            raise
        self.linktype: int | None = self._reader.linktype
        self.snaplen: int | None = self._reader.snaplen
        self.byte_order: str = self._reader.byte_order

    def __iter__(self) -> Iterator[Packet]:
        return iter(self._reader)

    @property
    def offset(self) -> int:
        """Bytes of the file read so far (for progress displays)."""
        return self._source.offset

    @property
    def size(self) -> int | None:
        """The file's size in bytes when it is a regular file, else ``None``."""
        return self._source.size()

    def unread_pcap(self) -> tuple[Source, PcapReader] | None:
        """The file and its reader, for a classic pcap file not yet iterated — what a
        native record walker starts from (:func:`pybpf.pcapfilter.batch.batches`); ``None``
        for pcapng, for pcap variants with other record layouts, and once iterated."""
        if self.format != "pcap" or self._source.offset != FILE_HEADER_SIZE or not isinstance(self._reader, PcapReader):
            return None
        return self._source, self._reader

    def close(self) -> None:
        """Close the file (if it was opened from a path)."""
        self._source.close()

    def __enter__(self) -> CaptureFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capture(path_or_stream: str | os.PathLike | BinaryIO) -> CaptureFile:
    """Open a pcap or pcapng file (or binary stream) and read its header."""
    return CaptureFile(path_or_stream)


def read_packets(path: str | os.PathLike | BinaryIO) -> Iterator[Packet]:
    """Every packet of a pcap or pcapng file, in order, read one at a time."""
    with CaptureFile(path) as capture:
        yield from capture
