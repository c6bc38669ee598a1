"""Classic pcap files (libpcap's savefile format): either byte order, micro- or
nanosecond timestamps. Records are read one at a time, so memory stays constant however
large the file.

Validation follows libpcap's ``sf-pcap.c``: versions 2.0–2.4 (and DG/UX's 543.0) only, a
zero reserved field in the link-type word (bits 16–25), captured lengths no larger than
libpcap would accept, and a record cut short by the end of the file is an error rather
than a silently shorter capture.
"""

from __future__ import annotations

import struct

from pybpf.capture._source import Source
from pybpf.capture.packet import Packet

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator

#: magic (as read in the file's byte order) → nanoseconds per timestamp fraction unit
MAGIC_MICRO, MAGIC_NANO, MAGIC_KUZNETZOV = 0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34
_UNIT_NS = {MAGIC_MICRO: 1000, MAGIC_NANO: 1, MAGIC_KUZNETZOV: 1000}
FILE_HEADER_SIZE = 24

_LINKTYPE_MASK = 0x0000FFFF
_RESERVED_MASK = 0x03FF0000          # libpcap's LT_RESERVED1: must be zero
_FCS_PRESENT = 0x04000000            # LT_FCS_LENGTH_PRESENT
#: libpcap's max_snaplen_for_dlt(): a larger record is a damaged or fuzzed file
_DEFAULT_MAX_CAPLEN = 262144
_MAX_CAPLEN = {231: 128 * 1024 * 1024, 249: 1024 * 1024, 279: 8 * 1024 * 1024}


def max_caplen(linktype: int) -> int:
    """The largest captured length libpcap accepts for a link type (D-Bus, USBPcap and
    EBHSCR frames may be larger than the usual 256 KiB)."""
    return _MAX_CAPLEN.get(linktype, _DEFAULT_MAX_CAPLEN)


def oversized_record(caplen: int, limit: int, snaplen: int) -> str:
    """The complaint about a record larger than libpcap accepts (shared by the
    record-at-a-time reader and the batch walker, so both say the same)."""
    return f"record claims {caplen} captured bytes, more than the maximum of {limit} (snaplen {snaplen})"


def pcap_byte_order(head: bytes) -> str | None:
    """``"<"`` or ``">"`` if the four bytes are a pcap magic number, else ``None``."""
    for order in "<>":
        if struct.unpack(order + "I", head)[0] in _UNIT_NS:
            return order
    return None


class PcapReader:
    """The packets of a pcap file, with its header fields as attributes.

    The header is read and checked on construction; iterating reads the records.
    ``linktype`` is the file's link type (every packet has it), ``fcs_length`` the FCS
    bytes libpcap's link-type extension says each frame carries (``None`` if unstated).
    """

    def __init__(self, source: Source, head: bytes):
        self._source = source
        self.path = source.name
        magic_le = struct.unpack("<I", head)[0]
        order = pcap_byte_order(head)
        if order is None:
            raise source.error(0, f"magic 0x{magic_le:08x} is not a pcap magic number")
        self.byte_order = order
        magic = struct.unpack(order + "I", head)[0]
        self._unit_ns = _UNIT_NS[magic]
        self.nanosecond = magic == MAGIC_NANO
        fields = struct.unpack(order + "HHiIII", source.read(FILE_HEADER_SIZE - 4, "file header"))
        self.version = (fields[0], fields[1])
        self.thiszone, _sigfigs, self.snaplen, network = fields[2:]
        self._check_version()
        if network & _RESERVED_MASK:
            raise source.error(20, f"link-type reserved field not zero (0x{network & _RESERVED_MASK:08x})")
        self.linktype = network & _LINKTYPE_MASK
        self.fcs_length = (network >> 28) * 2 if network & _FCS_PRESENT else None
        self._record = struct.Struct(order + ("IIIIIHBB" if magic == MAGIC_KUZNETZOV else "IIII"))
        # Before 2.3 (and in DG/UX 543.0 files) caplen and len were stored the other way
        # round; 2.3 files exist both ways, told apart by caplen <= len.
        major, minor = self.version
        self._swapped = "always" if (major == 2 and minor < 3) or major == 543 else \
            "maybe" if (major, minor) == (2, 3) else "never"
        #: the usual record layout: a 16-byte header (seconds, fraction, caplen, len in
        #: that order) then the data; what :mod:`pybpf.pcapfilter.batch` walks natively
        self.plain_records = self._swapped == "never" and self._record.size == 16
        self.timestamp_unit_ns = self._unit_ns

    def _check_version(self) -> None:
        major, minor = self.version
        if major < 2:
            raise self._source.error(4, f"archaic pcap savefile format (version {major}.{minor})")
        if not ((major == 2 and minor <= 4) or (major, minor) == (543, 0)):
            raise self._source.error(4, f"unsupported pcap savefile version {major}.{minor}")

    def __iter__(self) -> Iterator[Packet]:
        source, record, unit_ns = self._source, self._record, self._unit_ns
        limit = max_caplen(self.linktype)
        while True:
            start = source.offset
            header = source.read_some(record.size)
            if not header:
                return
            if len(header) < record.size:
                raise source.error(start, f"truncated record header ({len(header)} of {record.size} bytes)")
            seconds, fraction, caplen, wirelen = record.unpack(header)[:4]
            if self._swapped == "always" or (self._swapped == "maybe" and caplen > wirelen):
                caplen, wirelen = wirelen, caplen
            if caplen > limit:
                raise source.error(start, oversized_record(caplen, limit, self.snaplen))
            data = source.read(caplen, "packet data")
            yield Packet(seconds * 1_000_000_000 + fraction * unit_ns, data, wirelen, self.linktype)
