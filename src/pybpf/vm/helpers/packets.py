"""The helpers that read or reshape the packet a network program runs on: skb_load_bytes,
and xdp_adjust_head/tail on an XDP program's frame."""

from __future__ import annotations

import errno
from typing import Any

from pybpf.vm.errors import VMError
from pybpf.vm.helpers.operands import charge_copy, errno_result, signed32
from pybpf.vm.helpers.registry import Family
from pybpf.vm.memory import INPUT_BASE

FAMILY = Family("packets")


@FAMILY.helper("bpf_skb_load_bytes")
def skb_load_bytes(vm: Any, skb: int, offset: int, to: int, length: int, *_: int) -> int:
    """Copy packet bytes to the program's buffer; -EFAULT past the end."""
    charge_copy(vm, length)
    try:
        data = vm.memory.read_bytes(INPUT_BASE + (offset & 0xFFFF_FFFF), length)
    except VMError:
        return errno_result(-errno.EFAULT)
    vm.memory.write_bytes(to, data)
    return 0


def _frame(vm: Any) -> Any:
    frame = vm.__dict__.get("xdp_frame")
    if frame is None:
        raise VMError("bpf_xdp_adjust_head/tail need an XDP program's context")
    return frame


@FAMILY.helper("bpf_xdp_adjust_head")
def xdp_adjust_head(vm: Any, ctx: int, delta: int, *_: int) -> int:
    """Move the packet's start by ``delta`` (negative: grow into the headroom)."""
    return errno_result(_frame(vm).adjust_head(signed32(delta)))


@FAMILY.helper("bpf_xdp_adjust_tail")
def xdp_adjust_tail(vm: Any, ctx: int, delta: int, *_: int) -> int:
    """Move the packet's end by ``delta`` (positive: grow into the tailroom, zeroed)."""
    return errno_result(_frame(vm).adjust_tail(signed32(delta)))
