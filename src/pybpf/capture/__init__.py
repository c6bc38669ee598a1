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
TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:   # the same names, for type checkers (``X as X``: re-exported under --strict)
    from pybpf.capture.packet import (
        CaptureError as CaptureError,
    )
    from pybpf.capture.packet import (
        LinkType as LinkType,
    )
    from pybpf.capture.packet import (
        Packet as Packet,
    )
    from pybpf.capture.packet import (
        linktype_name as linktype_name,
    )
    from pybpf.capture.reader import (
        CaptureFile as CaptureFile,
    )
    from pybpf.capture.reader import (
        open_capture as open_capture,
    )
    from pybpf.capture.reader import (
        read_packets as read_packets,
    )
    from pybpf.capture.summary import format_timestamp as format_timestamp
    from pybpf.capture.summary import hexdump as hexdump
    from pybpf.capture.summary import summarize as summarize
    from pybpf.capture.writer import PcapngWriter as PcapngWriter
    from pybpf.capture.writer import PcapWriter as PcapWriter

__all__ = sorted(_SOURCES)
__getattr__, __dir__ = lazy_attributes(__name__, _SOURCES)
