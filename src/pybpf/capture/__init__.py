"""Captures: pcap and pcapng files read and written, live capture on Linux with a
kernel-attached classic BPF filter, and tcpdump-style one-line packet summaries.

``LiveCapture`` lives in :mod:`pybpf.capture.live` (imported on use: it needs Linux).
The names below are imported on first use (:mod:`pybpf._lazy`): ``pybpf filter -w``
reads and writes files without loading the protocol decoders behind the summaries.
"""

from pybpf._lazy import lazy_attributes

_SOURCES = {
    "CaptureError": "pybpf.capture.packet",
    "LinkType": "pybpf.capture.packet",
    "Packet": "pybpf.capture.packet",
    "linktype_name": "pybpf.capture.packet",
    "CaptureFile": "pybpf.capture.reader",
    "open_capture": "pybpf.capture.reader",
    "read_packets": "pybpf.capture.reader",
    "format_timestamp": "pybpf.capture.summary",
    "hexdump": "pybpf.capture.summary",
    "summarize": "pybpf.capture.summary",
    "PcapngWriter": "pybpf.capture.writer",
    "PcapWriter": "pybpf.capture.writer",
}
__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
