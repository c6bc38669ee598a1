"""How the kernel's skb test run (BPF_PROG_TEST_RUN) fills a packet's link-layer fields:
``eth_type_trans`` against the namespace's loopback device, which the test run's skb
arrives on. Shared by the vm's interpreter (:mod:`pybpf.vm.engine`) and the JIT's native
packet loop, so that both give programs the ``skb->protocol``, ``pkt_type`` and
``ifindex`` the kernel engine's test runs do."""

from __future__ import annotations

#: the device a skb test run's packet arrives on (the namespace's loopback: its MAC address
#: and its broadcast address are all zeros) and the pkt_type values eth_type_trans gives
#: against it (never PACKET_BROADCAST: ff:ff:ff:ff:ff:ff is not loopback's broadcast)
LOOPBACK_IFINDEX = 1
PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST = 0, 2, 3
#: ethertypes from this up are protocols; below, 802.3 lengths (eth_proto_is_802_3)
ETH_P_802_3_MIN = 0x0600
ETH_P_802_3, ETH_P_802_2 = 0x0001, 0x0004


def eth_type_trans(packet: bytes | bytearray) -> tuple[int, int]:
    """``skb->protocol`` (host order) and ``skb->pkt_type`` as the kernel's skb test run
    sets them, through ``eth_type_trans`` on the loopback device: an ethertype below
    0x600 is an 802.3 length, giving ETH_P_802_3 for raw IPX (payload 0xFFFF) and
    ETH_P_802_2 otherwise; a destination MAC other than loopback's zeros makes the packet
    multicast (the group bit, broadcast included) or another host's. The JIT's packet
    loop does the same (``_eth_type_trans`` in :mod:`pybpf.vm.jit.translate`)."""
    ethertype = int.from_bytes(packet[12:14], "big")
    if ethertype < ETH_P_802_3_MIN:
        ethertype = ETH_P_802_3 if packet[14:16] == b"\xff\xff" else ETH_P_802_2
    dest = bytes(packet[:6])
    if not any(dest):
        return ethertype, PACKET_HOST
    return ethertype, PACKET_MULTICAST if dest[0] & 1 else PACKET_OTHERHOST
