"""Captures: reading pcap and pcapng files."""

from pybpf.capture.pcap import CaptureError, Packet, read_packets

__all__ = ["CaptureError", "Packet", "read_packets"]
