"""Packet programs over captures: every packet of a pcap/pcapng file through an XDP, tc,
socket-filter or cgroup-skb program, in order, on either engine, with the program's maps
kept across packets as on a live interface — verdicts, the packets as the program left
them, and the maps at the end. ``pybpf replay`` is the command; :func:`replay` the
library call a test suite uses."""

from pybpf.replay.run import PacketResult, ReplayError, Summary, replay, replay_summary, replay_verdicts
from pybpf.replay.verdicts import PACKET_TYPES, passes, verdict_name

__all__ = ["PACKET_TYPES", "PacketResult", "ReplayError", "Summary", "passes", "replay", "replay_summary", "replay_verdicts",
           "verdict_name"]
