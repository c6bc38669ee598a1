"""Named numbers of pcap-filter(7): the constants its scanner turns into numbers
(``tcpflags``, ``tcp-syn``, ``icmp-echo``...), Ethernet type names for ``ether proto``,
and LLC SAP names; values from pcap-filter(7) and the IANA/IEEE registries."""

from __future__ import annotations

_ICMP = {"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5, "icmp-echo": 8,
         "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
         "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15, "icmp-ireqreply": 16, "icmp-maskreq": 17,
         "icmp-maskreply": 18}
_ICMP6 = {"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
          "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
          "icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
          "icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
          "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
          "icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139, "icmp6-nodeinformationresponse": 140,
          "icmp6-ineighbordiscoverysolicit": 141, "icmp6-ineighbordiscoveryadvert": 142,
          "icmp6-multicastlistenerreportv2": 143, "icmp6-homeagentdiscoveryrequest": 144,
          "icmp6-homeagentdiscoveryreply": 145, "icmp6-mobileprefixsolicit": 146,
          "icmp6-mobileprefixadvert": 147, "icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
          "icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
          "icmp6-multicastrouterterm": 153}
_TCP = {"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10,
        "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80}

#: words the scanner reads as numbers
NAMED_NUMBERS: dict[str, int] = {"icmptype": 0, "icmpcode": 1, "icmp6type": 0, "icmp6code": 1,
                                 **_ICMP, **_ICMP6, **_TCP}

#: ``ether proto NAME`` (and the link-level protocol keywords)
ETHER_TYPES = {"ip": 0x0800, "ip6": 0x86DD, "arp": 0x0806, "rarp": 0x8035, "atalk": 0x809B, "aarp": 0x80F3,
               "decnet": 0x6003, "lat": 0x6004, "sca": 0x6007, "moprc": 0x6002, "mopdl": 0x6001,
               "loopback": 0x9000, "ipx": 0x8137, "netbeui": 0x8191, "lldp": 0x88CC, "slow": 0x8809}
#: 802.2 LLC service access points with names
LLC_SAPS = {"iso": 0xFE, "stp": 0x42, "ipx": 0xE0, "netbeui": 0xF0}
