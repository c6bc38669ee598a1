"""Protocol numbers and the keyword tables of pcap-filter(7): which IP protocol, ethertype,
LLC SAP or ISO protocol each keyword names, and the link-layer constants code generation
tests against (values from the IANA and IEEE registries and the headers' formats)."""

from __future__ import annotations

ETHERMTU = 1500
IP, IP6, ARP, RARP = 0x0800, 0x86DD, 0x0806, 0x8035
TCP, UDP, SCTP, ICMP, ICMP6, IGMP, IGRP, PIM, VRRP, CARP, AH, ESP = 6, 17, 132, 1, 58, 2, 9, 103, 112, 112, 51, 50
FRAGMENT_HEADER = 44
#: IP protocols each keyword stands for, and whether it exists over IPv4/IPv6
IP_KEYWORDS = {"tcp": (TCP, True, True), "udp": (UDP, True, True), "sctp": (SCTP, True, True),
               "icmp": (ICMP, True, False), "icmp6": (ICMP6, False, True), "igmp": (IGMP, True, False),
               "igrp": (IGRP, True, False), "pim": (PIM, True, True), "vrrp": (VRRP, True, False),
               "carp": (CARP, True, False), "ah": (AH, True, True), "esp": (ESP, True, True)}
ETHERTYPE_KEYWORDS = {"ip": IP, "ip6": IP6, "arp": ARP, "rarp": RARP, "atalk": 0x809B, "aarp": 0x80F3,
                      "decnet": 0x6003, "lat": 0x6004, "sca": 0x6007, "moprc": 0x6002, "mopdl": 0x6001}
LLC_KEYWORDS = {"iso": 0xFE, "stp": 0x42, "ipx": 0xE0, "netbeui": 0xF0}
ISO_KEYWORDS = {"esis": 0x82, "isis": 0x83, "clnp": 0x81}
#: IS-IS PDU types for the IS-IS level keywords
ISIS_PDUS = {"l1": (26, 24, 18, 15, 17), "l2": (27, 25, 20, 16, 17), "iih": (15, 16, 17), "lsp": (18, 20),
             "snp": (24, 25, 26, 27), "csnp": (24, 25), "psnp": (26, 27)}
#: 802.2 LLC supervisory (mask 0x0f) and unnumbered (mask 0xef) commands
LLC_S_COMMANDS = {"rr": 0x01, "rnr": 0x05, "rej": 0x09}
LLC_U_COMMANDS = {"ui": 0x03, "ua": 0x63, "disc": 0x43, "dm": 0x0F, "sabme": 0x6F, "test": 0xE3, "xid": 0xAF,
                  "frmr": 0x87}
#: BSD address-family values that mean IPv6 in DLT_NULL/LOOP headers (NetBSD/OpenBSD, FreeBSD, Darwin)
AF_INET6_BSD = (24, 28, 30)
LINUX_SLL_P_802_3, LINUX_SLL_P_802_2 = 0x0001, 0x0004
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
MPLS = 0x8847
PPPOED, PPPOES = 0x8863, 0x8864
#: link types whose protocol field can say MPLS
MPLS_LINKS = {"EN10MB", "PPP", "C_HDLC", "NETANALYZER", "NETANALYZER_TRANSPARENT", "DSA_TAG_BRCM", "DSA_TAG_DSA"}
