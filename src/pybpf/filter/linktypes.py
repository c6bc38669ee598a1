"""Link-layer types a filter can be compiled for: their pcap LINKTYPE numbers and where
each keeps the field that names the network protocol and the network-layer header.

Numbers are the tcpdump.org LINKTYPE registry's (what pcap files carry); offsets follow
each link layer's header format.
"""

from __future__ import annotations

from pybpf.filter.errors import FilterError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class LinkLayout:
    name: str
    number: int
    #: how the protocol field is tested: ether, sll, sll2, raw, ipv4, ipv6, null, loop...;
    #: "none" where the link layer has none
    style: str
    #: offset of the protocol field (None where there is none)
    off_linktype: int | None
    #: offset of the link-layer payload (the network-layer header for ethertype frames);
    #: None where no network layer is reachable
    off_linkpl: int | None
    #: whether the link layer carries ISO, STP, NetBEUI and IPX frames (in 802.2 LLC
    #: frames, or under protocol numbers of its own as PPP and Cisco HDLC do)
    llc: bool = False
    #: whether packets carry their direction (inbound/outbound) or interface index
    direction: str | None = None
    #: where an ISO NLPID sits past the link payload's start (after an 802.2 LLC header: 3)
    iso_offset: int = 3
    #: offsets of the destination and source MAC addresses, where the header has them
    macs: tuple[int, int] | None = None
    #: bytes in a link-layer address (6 for MACs; 1 for ARCnet and MS/TP stations)
    address_size: int = 6
    #: where the link-layer header starts (``link[0]``), past any capture pseudo-header
    off_linkhdr: int = 0


LINK_TYPES = {lt.name: lt for lt in [
    LinkLayout("EN10MB", 1, "ether", 12, 14, llc=True, macs=(0, 6)),
    LinkLayout("FDDI", 10, "llc", None, 13, llc=True, macs=(1, 7)),
    LinkLayout("IEEE802", 6, "llc", None, 14, llc=True, macs=(2, 8)),
    LinkLayout("IP_OVER_FC", 122, "llc", None, 16, llc=True, macs=(2, 10)),
    LinkLayout("LINUX_SLL", 113, "sll", 14, 16, llc=True, direction="sll"),
    LinkLayout("LINUX_SLL2", 276, "sll2", 0, 20, llc=True, direction="sll2"),
    LinkLayout("RAW", 101, "raw", None, 0),
    LinkLayout("IPV4", 228, "ipv4", None, 0),
    LinkLayout("IPV6", 229, "ipv6", None, 0),
    LinkLayout("NULL", 0, "null", 0, 4),
    LinkLayout("LOOP", 108, "loop", 0, 4),
    LinkLayout("PPP", 9, "ppp", 2, 4, llc=True, iso_offset=0),
    LinkLayout("PPP_SERIAL", 50, "ppp", 2, 4, llc=True, iso_offset=0),
    LinkLayout("C_HDLC", 104, "chdlc", 2, 4, llc=True, iso_offset=1),
    LinkLayout("PFLOG", 117, "pflog", None, 0),
    LinkLayout("IEEE802_11", 105, "wlan", None, 0, llc=True),
    LinkLayout("IEEE802_11_RADIO", 127, "radiotap", None, 0, llc=True),
    # 802.11 behind other radio headers (the "radiotap" style stands for any of them)
    LinkLayout("IEEE802_11_RADIO_AVS", 163, "radiotap", None, 0, llc=True),
    LinkLayout("PRISM_HEADER", 119, "radiotap", None, 0, llc=True),
    LinkLayout("PPI", 192, "radiotap", None, 0, llc=True),
    # Ethernet behind a switch tag (Broadcom, Marvell) or a capture pseudo-header (Hilscher netANALYZER)
    LinkLayout("DSA_TAG_BRCM", 281, "ether", 16, 18, llc=True, macs=(0, 6), direction="brcm"),
    LinkLayout("DSA_TAG_DSA", 284, "ether", 16, 18, llc=True, macs=(0, 6), direction="dsa"),
    LinkLayout("NETANALYZER", 240, "ether", 16, 18, llc=True, macs=(4, 10), off_linkhdr=4),
    LinkLayout("NETANALYZER_TRANSPARENT", 241, "ether", 24, 26, llc=True, macs=(12, 18), off_linkhdr=12),
    # an ethertype at a fixed place, nothing else to know
    LinkLayout("APPLE_IP_OVER_IEEE1394", 138, "ethertype", 16, 18),
    LinkLayout("SYMANTEC_FIREWALL", 99, "ethertype", 6, 44),
    # IP only; libpcap reads the version nibble at the start of the capture record
    LinkLayout("SLIP", 8, "raw", None, 16, direction="slip"),
    LinkLayout("SLIP_BSDOS", 102, "raw", None, 24),
    LinkLayout("PPP_PPPD", 166, "ppp", 2, 4, llc=True, iso_offset=0, direction="pppd"),
    LinkLayout("PPP_ETHER", 51, "ppp", 6, 8, llc=True, iso_offset=0),
    LinkLayout("PPP_BSDOS", 103, "ppp_bsdos", 5, 24, llc=True, iso_offset=0),
    LinkLayout("ATM_RFC1483", 100, "llc", None, 0, llc=True),
    LinkLayout("SUNATM", 123, "sunatm", None, 4, llc=True),
    LinkLayout("ATM_CLIP", 106, "llc", None, 0, llc=True),
    LinkLayout("ENC", 109, "null", 0, 12),
    LinkLayout("IPNET", 226, "ipnet", 1, 24, direction="ipnet"),
    LinkLayout("JUNIPER_MFR", 134, "juniper", 4, 4, direction="juniper"),
    LinkLayout("LTALK", 114, "ltalk", None, 0),
    # Q.922 address (2), UI control (1), then an NLPID naming the payload
    LinkLayout("FRELAY", 107, "frelay", 2, 4, llc=True, iso_offset=-1),
    # one-byte station addresses: destination, source
    LinkLayout("ARCNET", 7, "arcnet", 2, 6, macs=(1, 0), address_size=1),
    LinkLayout("ARCNET_LINUX", 129, "arcnet", 4, 8, macs=(1, 0), address_size=1),
    LinkLayout("BACNET_MS_TP", 165, "none", None, None, macs=(3, 4), address_size=1),
    LinkLayout("MTP2", 140, "none", None, None),
    LinkLayout("MTP2_WITH_PHDR", 139, "none", None, None),
]}
ALIASES = {"ETHERNET": "EN10MB", "ETHER": "EN10MB", "SLL": "LINUX_SLL", "SLL2": "LINUX_SLL2"}
BY_NUMBER = {lt.number: lt for lt in LINK_TYPES.values()}


def link_type(name_or_number: str | int) -> LinkLayout:
    """The link type named (``EN10MB``, ``RAW``...) or numbered (1, 101...)."""
    if isinstance(name_or_number, int):
        if name_or_number in BY_NUMBER:
            return BY_NUMBER[name_or_number]
        raise FilterError(f"link type {name_or_number} is not one pybpf compiles filters for "
                          f"(supported: {', '.join(f'{lt.name} ({lt.number})' for lt in LINK_TYPES.values())})")
    key = str(name_or_number).upper().removeprefix("DLT_").removeprefix("LINKTYPE_")
    if key.isdigit():
        return link_type(int(key))
    key = ALIASES.get(key, key)
    if key not in LINK_TYPES:
        raise FilterError(f"unknown or unsupported link type {name_or_number!r} "
                          f"(supported: {', '.join(LINK_TYPES)})")
    return LINK_TYPES[key]
