"""Captures: pcap and pcapng files read and written, live capture on Linux with a
kernel-attached classic BPF filter, and tcpdump-style one-line packet summaries.

``LiveCapture`` lives in :mod:`pybpf.capture.live` (imported on use: it needs Linux)."""

from pybpf.capture.packet import CaptureError, LinkType, Packet, linktype_name
from pybpf.capture.reader import CaptureFile, open_capture, read_packets
from pybpf.capture.summary import format_timestamp, hexdump, summarize
from pybpf.capture.writer import PcapngWriter, PcapWriter

__all__ = ["CaptureError", "CaptureFile", "LinkType", "Packet", "PcapWriter", "PcapngWriter", "format_timestamp",
           "hexdump", "linktype_name", "open_capture", "read_packets", "summarize"]
