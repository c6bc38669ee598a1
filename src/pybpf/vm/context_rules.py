"""Which context fields a program may read and write, checked at load as the kernel's
verifier does (``invalid bpf_context access off=76 size=4``).

The context pointer arrives in r1; moves copy it, anything else written to a register
ends its copy. A load or store whose base is a register that holds the context on every
path must touch one field, aligned, within the program type's read or write permissions.
The tables follow the kernel's ``*_is_valid_access`` functions for the types the vm runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pybpf.isa import Instruction
from pybpf.isa import opcodes as o
from pybpf.object import ProgramType
from pybpf.vm.analysis import must_dataflow
from pybpf.vm.program import Program

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


@dataclass(frozen=True)
class Rules:
    """A context layout and what a program type may read and write in it."""

    fields: dict[str, tuple[int, int]]
    readable: frozenset[str]
    writable: frozenset[str]
    name: str


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
    # egress_ifindex is only for programs attached to a devmap
    ProgramType.XDP: Rules(XDP_MD, frozenset(set(XDP_MD) - {"egress_ifindex"}), frozenset(), "xdp_md"),
}


def _field_at(rules: Rules, offset: int, size: int) -> str | None:
    for name, (start, width) in rules.fields.items():
        if start <= offset and offset + size <= start + width:
            return name
    return None


def context_problem(kind: ProgramType, program: Program) -> tuple[int, str] | None:
    """(slot, message) of the first context access the kernel would refuse, or None."""
    rules = RULES.get(kind)
    if rules is None:
        return None
    holders = _context_registers(program)
    for index, ins in enumerate(program.instructions):
        if index not in holders:
            continue
        kind_of_access = _access(ins)
        if kind_of_access is None:
            continue
        base, write = kind_of_access
        if base not in holders[index]:
            continue
        size = o.SIZE_BYTES[o.size(ins.opcode)]
        offset = ins.off
        field = _field_at(rules, offset, size)
        allowed = rules.writable if write else rules.readable
        if field is None or offset % size or field not in allowed:
            what = "write" if write else "read"
            detail = f" ({field} is not {what}able for {kind} programs)" if field else ""
            return program.slots[index], (f"invalid bpf_context access off={offset} size={size}: "
                                          f"{rules.name} {what}{detail}")
    return None


def _access(ins: Instruction) -> tuple[int, bool] | None:
    """(base register, is it a write) of a load or store, else None."""
    if ins.cls == o.LDX:
        return ins.src, False
    if ins.cls in (o.ST, o.STX):
        if ins.cls == o.STX and o.mode(ins.opcode) == o.ATOMIC and ins.imm == o.LOAD_ACQ:
            return ins.src, False
        return ins.dst, True
    return None


def _context_registers(program: Program) -> dict[int, frozenset[int]]:
    """For each instruction, the registers holding the context pointer on every path."""
    return must_dataflow(program, 0, len(program.instructions), frozenset({1}), _holders_after)


def _holders_after(ins: Instruction, before: frozenset[int]) -> frozenset[int]:
    """Moves copy the context pointer; any other write to a register ends its copy."""
    if ins.cls in (o.ALU, o.ALU64, o.LDX) or ins.is_lddw:
        copy = ins.cls == o.ALU64 and o.op(ins.opcode) == o.MOV and o.source(ins.opcode) == o.X \
            and not ins.off and ins.src in before
        return (before | {ins.dst}) if copy else (before - {ins.dst})
    if (ins.cls == o.JMP and o.op(ins.opcode) == o.CALL) or ins.cls == o.LD:
        return before - {0, 1, 2, 3, 4, 5}
    if ins.cls == o.STX and o.mode(ins.opcode) == o.ATOMIC and ins.imm & o.FETCH:
        return before - {ins.src, 0}
    return before
