"""Which context fields a program may read and write, as the kernel's verifier decides
(``invalid bpf_context access off=76 size=4``).

An access must touch one field, aligned, within the program type's read or write
permissions. The tables follow the kernel's ``*_is_valid_access`` functions.
"""

from __future__ import annotations

from functools import lru_cache

from pybpf.object import ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: struct __sk_buff: field → (offset, size)
SK_BUFF = {
    "len": (0, 4), "pkt_type": (4, 4), "mark": (8, 4), "queue_mapping": (12, 4), "protocol": (16, 4),
    "vlan_present": (20, 4), "vlan_tci": (24, 4), "vlan_proto": (28, 4), "priority": (32, 4),
    "ingress_ifindex": (36, 4), "ifindex": (40, 4), "tc_index": (44, 4),
    **{f"cb[{i}]": (48 + 4 * i, 4) for i in range(5)},
    "hash": (68, 4), "tc_classid": (72, 4), "data": (76, 4), "data_end": (80, 4), "napi_id": (84, 4),
    "family": (88, 4), "remote_ip4": (92, 4), "local_ip4": (96, 4),
    **{f"remote_ip6[{i}]": (100 + 4 * i, 4) for i in range(4)},
    **{f"local_ip6[{i}]": (116 + 4 * i, 4) for i in range(4)},
    "remote_port": (132, 4), "local_port": (136, 4), "data_meta": (140, 4), "flow_keys": (144, 8),
    "tstamp": (152, 8), "wire_len": (160, 4), "gso_segs": (164, 4), "sk": (168, 8), "gso_size": (176, 4),
    "hwtstamp": (184, 8),
}
XDP_MD = {"data": (0, 4), "data_end": (4, 4), "data_meta": (8, 4), "ingress_ifindex": (12, 4),
          "rx_queue_index": (16, 4), "egress_ifindex": (20, 4)}
_SOCKET_FIELDS = {"family", "remote_ip4", "local_ip4", "remote_port", "local_port",
                  *(f"remote_ip6[{i}]" for i in range(4)), *(f"local_ip6[{i}]" for i in range(4))}
_CB = {f"cb[{i}]" for i in range(5)}
#: fields read and written only whole (pointers, addresses, 64-bit stamps)
_FULL_SIZE = {"data", "data_end", "data_meta", "tstamp", "hwtstamp", "sk", "flow_keys", "remote_ip4", "local_ip4",
              *(f"remote_ip6[{i}]" for i in range(4)), *(f"local_ip6[{i}]" for i in range(4))}


#: struct bpf_sock: the fields read whole or in narrower power-of-two parts from their
#: start (offset, size), those also from inside (addresses), and dst_port (2 bytes of 4)
_SOCK_NARROW_AT_START = {4, 8, 12, 44, 72, 76}
_SOCK_ADDRESSES = (range(24, 44), range(52, 72))
_SOCK_SIZE = 80


def sock_field_size(off: int, size: int, full: bool) -> int | None:
    """The field size of a ``size``-byte read at ``off`` of a socket pointer (``full``: a
    ``bpf_sock``, else a ``bpf_sock_common``, without type/protocol/mark/priority), or
    None when the kernel's ``bpf_sock_is_valid_access`` refuses it."""
    if off < 0 or off >= _SOCK_SIZE or off % size:
        return None
    if not full and 8 <= off < 24:
        return None
    narrow = size <= 4
    if off in _SOCK_NARROW_AT_START or any(off in r for r in _SOCK_ADDRESSES):
        return 4 if narrow else None
    if off in (48, 49):
        return size if size <= 2 else (4 if size == 4 and off == 48 else None)
    if off in (50, 51):
        return None
    return 4 if size == 4 else None


@dataclass(frozen=True)
class Rules:
    """A context layout and what a program type may read and write in it."""

    fields: dict[str, tuple[int, int]]
    readable: frozenset[str]
    writable: frozenset[str]
    name: str
    #: fields may be read narrower than they are (the low bytes)
    narrow: bool = True


def _skb(readable_out: set[str], writable: set[str]) -> Rules:
    return Rules(SK_BUFF, frozenset(set(SK_BUFF) - readable_out), frozenset(writable), "__sk_buff")


RULES = {
    ProgramType.SOCKET_FILTER: _skb({"tc_classid", "data", "data_end", "data_meta", "flow_keys", "tstamp",
                                     "wire_len", "hwtstamp"} | _SOCKET_FIELDS, set(_CB)),
    ProgramType.SCHED_CLS: _skb({"flow_keys"} | _SOCKET_FIELDS,
                                {"mark", "tc_index", "priority", "tc_classid", "queue_mapping", "tstamp"} | _CB),
    ProgramType.SCHED_ACT: _skb({"flow_keys"} | _SOCKET_FIELDS,
                                {"mark", "tc_index", "priority", "tc_classid", "queue_mapping", "tstamp"} | _CB),
    ProgramType.CGROUP_SKB: _skb({"tc_classid", "data_meta", "flow_keys", "wire_len"},
                                 {"mark", "priority", "tstamp"} | _CB),
    **{kind: _skb({"tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "flow_keys"} | _SOCKET_FIELDS,
                  {"mark", "priority"} | _CB) for kind in (ProgramType.LWT_IN, ProgramType.LWT_OUT, ProgramType.LWT_XMIT)},
    ProgramType.SK_SKB: _skb({"tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "flow_keys", "mark"},
                             {"tc_index", "priority"}),
    # egress_ifindex is only for programs attached to a devmap
    ProgramType.XDP: Rules(XDP_MD, frozenset(set(XDP_MD) - {"egress_ifindex"}), frozenset(), "xdp_md", False),
}


#: program types whose context is read-only memory of a fixed size: (size, smallest
#: readable offset) — pt_regs for kprobes, bpf_perf_event_data, the raw arguments
_FLAT = {
    ProgramType.KPROBE: (168, 0),
    ProgramType.PERF_EVENT: (184, 0),
    ProgramType.RAW_TRACEPOINT: (96, 0),
    ProgramType.RAW_TRACEPOINT_WRITABLE: (96, 0),
    # the first 8 bytes (common_type, flags, preempt_count, pid) are not the program's
    ProgramType.TRACEPOINT: (8192, 8),
}
#: which __sk_buff / xdp_md fields read as pointers, and of which kind
PACKET_FIELDS = {"data": "pkt", "data_end": "pkt_end", "data_meta": "pkt_meta", "sk": "sock_common_or_null"}


def _field_at(rules: Rules, offset: int, size: int) -> str | None:
    for name, (start, width) in rules.fields.items():
        if start <= offset and offset + size <= start + width:
            return name
    return None


@lru_cache(maxsize=4096)
def context_access(kind: ProgramType, offset: int, size: int, write: bool) -> tuple[str | None, str | None, str]:
    """(problem, packet pointer kind, why) for a ``size``-byte access at ``offset`` of a
    program type's context: the problem is the kernel's message when it refuses the
    access, the kind names the packet pointer a read of ``data``/``data_end``/``data_meta``
    yields, and why explains a refusal in words (cached: the same few fields are read
    on every path)."""
    refused = f"invalid bpf_context access off={offset} size={size}"
    flat = _FLAT.get(kind)
    if flat is not None:
        limit, first = flat
        why = f"the {kind} context is read-only memory of {limit} bytes, read aligned from offset {first}"
        if write or offset < first or offset + size > limit or offset % size:
            return refused, None, why
        if kind == ProgramType.PERF_EVENT and offset < 168 and size != 8:
            return refused, None, "the registers in bpf_perf_event_data are read 8 bytes at a time"
        return None, None, ""
    rules = RULES.get(kind)
    if rules is None:
        return refused, None, f"the vm's verifier has no context rules for {kind} programs"
    field = _field_at(rules, offset, 1)
    what = "write" if write else "read"
    allowed = rules.writable if write else rules.readable
    if field is None or offset % size:
        return refused, None, f"{rules.name} {what}: no field at offset {offset}, or misaligned"
    start, width = rules.fields[field]
    if field in _CB:                      # cb[0..4] is one scratch area: any aligned access inside it
        start, width = 48, 20
    why = f"{rules.name} {what} of {field}"
    if field not in allowed:
        return refused, None, f"{rules.name} {what} ({field} is not {what}able for {kind} programs)"
    if offset + size > start + width:
        return refused, None, f"{why}: {size} bytes at offset {offset} go past the field"
    full = size == width or field in _CB
    if not full and (write or field in _FULL_SIZE or not rules.narrow):
        return refused, None, f"{why} must be {width} bytes wide"
    pointer = PACKET_FIELDS.get(field)
    return None, pointer, ""
