"""Where ``pybpf filter``'s matching packets go: printed as tcpdump prints them
(:class:`Printer`), or saved to a pcap file (:class:`Saver`), which copies records
undecoded when the batch stores them as the file does."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import ctypes
    from collections.abc import Iterable
    from typing import BinaryIO

    from pybpf.capture.packet import Packet
    from pybpf.pcapfilter.batch import RecordBatch, RecordBatches


class PrintStyle:
    """How matching packets are printed: port numbers rather than names (``-n``), the
    link-layer header (``-e``), the bytes in hex (``-x``)."""

    __slots__ = ("numeric", "link_header", "hex")

    def __init__(self, numeric: bool = False, link_header: bool = False, hex: bool = False):
        self.numeric, self.link_header, self.hex = numeric, link_header, hex


class Printer:
    """Matching packets as tcpdump prints them: timestamp, summary, optional hex."""

    def __init__(self, style: PrintStyle):
        self.style = style
        self.out = sys.stdout

    def packets(self, packets: Iterable[Packet]) -> None:
        from pybpf.capture import format_timestamp, hexdump, summarize

        style, lines = self.style, []
        for packet in packets:
            line = f"{format_timestamp(packet.timestamp_ns)} " + summarize(
                packet.data, packet.linktype, numeric=style.numeric, link_header=style.link_header,
                wirelen=packet.wirelen)
            lines.append(line + "\n" + hexdump(packet.data, packet.linktype) if style.hex else line)
        if lines:
            self.out.write("\n".join(lines) + "\n")

    def batch(self, batch: RecordBatch, results: ctypes.Array, chosen: list[int]) -> None:
        self.packets(batch.packet(i) for i in chosen)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.out.flush()

    def abort(self) -> None:
        self.out.flush()


class Saver:
    """Matching packets written to a pcap file: to a new file atomically (it appears
    only when complete), to a device or FIFO (``/dev/null``) or stdout (``-``) directly.
    From a batch whose records are stored as this file stores them, the records are
    copied undecoded."""

    def __init__(self, target: str, linktype: int, snaplen: int, nanosecond: bool = False,
                 byte_order: str = "native"):
        from pybpf.capture import PcapWriter

        self._stream: BinaryIO | None = None
        destination: str | BinaryIO = target
        if target == "-":
            destination = sys.stdout.buffer
        elif os.path.exists(target) and not os.path.isfile(target):
            # a device or FIFO: an atomic rename would replace it (/dev/null!) with a file
            destination = self._stream = open(target, "wb")
        self.writer = PcapWriter(destination, linktype, snaplen, nanosecond=nanosecond, byte_order=byte_order)
        self.byte_order, self.nanosecond = byte_order, nanosecond

    def packets(self, packets: Iterable[Packet]) -> None:
        for packet in packets:
            self.writer.write_packet(packet)

    def copies(self, batches: RecordBatches) -> bool:
        """Whether the records of ``batches`` are stored as this file stores them (then
        they are copied undecoded)."""
        return batches.linktype == self.writer.linktype and batches.nanosecond == self.nanosecond \
            and ("big" if batches.byte_order == ">" else "little") == self.byte_order

    def batch(self, batch: RecordBatch, results: ctypes.Array, chosen: list[int]) -> None:
        if batch.linktype == self.writer.linktype and batch.endian == self.byte_order \
                and batch.nanosecond == self.nanosecond:
            upto = chosen[-1] + 1 if chosen else 0
            self.writer.write_records(batch.gather(results, upto), len(chosen))
        else:
            self.packets(batch.packet(i) for i in chosen)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            if self._stream is not None:
                self._stream.close()

    def abort(self) -> None:
        self.writer.abort()
        if self._stream is not None:
            self._stream.close()


Sink = Printer | Saver
