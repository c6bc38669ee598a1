"""What a packet program's return value means, per program type — the names users know
(``XDP_PASS``, ``TC_ACT_SHOT``), and whether the packet goes on.

XDP and tc return an action code; a socket filter returns how many bytes of the packet to
keep (0 drops it); a cgroup skb program returns 1 to let the packet through and 0 to drop
it. Values from the kernel's uapi headers (``enum xdp_action``, ``TC_ACT_*`` in
pkt_cls.h).
"""

from __future__ import annotations

from pybpf.object import ProgramType

XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
TC_ACTIONS = {-1: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT", 3: "TC_ACT_PIPE",
              4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT", 7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP"}
#: tc actions after which the packet does not continue up or out of the stack
_TC_CONSUMED = {2, 4, 5, 8}
#: the program types a capture's packets can be replayed through (BPF_PROG_TEST_RUN on skbs or XDP frames)
PACKET_TYPES = (ProgramType.XDP, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.SOCKET_FILTER,
                ProgramType.CGROUP_SKB)


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >> 31 else value


def verdict_name(kind: ProgramType, retval: int) -> str:
    """The name of ``retval`` for a program of type ``kind``: an action's name, or for a
    socket filter ``ACCEPT``/``TRUNCATE n``/``DROP``, for cgroup skb ``ALLOW``/``DROP``."""
    if kind == ProgramType.XDP:
        return XDP_ACTIONS.get(retval & 0xFFFF_FFFF, f"XDP_UNKNOWN({retval & 0xFFFF_FFFF})")
    if kind in (ProgramType.SCHED_CLS, ProgramType.SCHED_ACT):
        code = _signed32(retval)
        return TC_ACTIONS.get(code, f"TC_ACT_UNKNOWN({code})")
    if kind == ProgramType.CGROUP_SKB:
        return "ALLOW" if retval & 1 else "DROP"
    return "DROP" if retval & 0xFFFF_FFFF == 0 else "ACCEPT"


def passes(kind: ProgramType, retval: int) -> bool:
    """Whether the packet goes on (is written by ``pybpf replay -w``): XDP_PASS, TX and
    REDIRECT; tc actions other than SHOT, STOLEN, QUEUED and TRAP; a socket filter's
    non-zero length; cgroup skb's 1."""
    if kind == ProgramType.XDP:
        return retval & 0xFFFF_FFFF in (2, 3, 4)
    if kind in (ProgramType.SCHED_CLS, ProgramType.SCHED_ACT):
        return _signed32(retval) not in _TC_CONSUMED
    if kind == ProgramType.CGROUP_SKB:
        return bool(retval & 1)
    return retval & 0xFFFF_FFFF != 0
