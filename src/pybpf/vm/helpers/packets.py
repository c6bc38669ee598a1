"""The helpers that read, write or send on the packet a network program runs on, as the
kernel's do in a test run: skb_load_bytes(_relative), skb_store_bytes, skb_pull_data and
the redirects for tc programs; xdp_adjust_head/tail, xdp_load/store_bytes,
xdp_get_buff_len and redirect(_map) on an XDP program's frame.

Offsets count from ``skb->data``: the Ethernet header for tc programs, the network header
for socket filters and cgroup programs (whose link-layer header the engine keeps aside
for reads relative to the MAC header)."""

from __future__ import annotations

import errno

from pybpf.object import MapType
from pybpf.vm.errors import VMError
from pybpf.vm.helpers.operands import charge_copy, errno_result, map_operand, signed32
from pybpf.vm.helpers.registry import Family
from pybpf.vm.jit.abi import CONTEXT_BASE
from pybpf.vm.memory import INPUT_BASE

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("packets")
#: the maps bpf_redirect_map may broadcast through
DEVICE_MAPS = (MapType.DEVMAP, MapType.DEVMAP_HASH)


#: tc verdicts the redirect helpers return (TC_ACT_SHOT, TC_ACT_REDIRECT)
TC_ACT_SHOT, TC_ACT_REDIRECT = 2, 7
XDP_ABORTED, XDP_REDIRECT = 0, 4
#: XDP actions that may stand in bpf_redirect_map's flags for a missing entry
XDP_ACTION_MASK = 3
F_INGRESS = 1
F_BROADCAST, F_EXCLUDE_INGRESS = 1 << 3, 1 << 4
F_RECOMPUTE_CSUM, F_INVALIDATE_HASH = 1, 2
HDR_START_MAC, HDR_START_NET = 0, 1
ETH_HLEN = 14
INT_MAX = 0x7FFF_FFFF


def _packet_length(vm: Any) -> int:
    """The number of bytes from skb->data to the packet's end (taken from the packet's
    region: nothing is copied)."""
    region, offset = vm.memory.region(INPUT_BASE, 1, False, access=False)
    return len(region.data) - offset


def _packet_bytes(vm: Any, offset: int, length: int) -> bytes:
    """``length`` bytes of the packet from ``offset`` past skb->data (inside it: the
    callers checked), read from the packet's region without copying the rest of it."""
    return vm.memory.read_bytes(INPUT_BASE + offset, length) if length else b""


@FAMILY.helper("bpf_skb_load_bytes")
def skb_load_bytes(vm: Any, skb: int, offset: int, to: int, length: int, *_: int) -> int:
    """Copy packet bytes to the program's buffer; past the end, zeros and -EFAULT."""
    length &= 0xFFFF_FFFF
    charge_copy(vm, length)
    vm.memory.check(to, length, True)
    offset &= 0xFFFF_FFFF
    if offset > INT_MAX or offset + length > _packet_length(vm):
        vm.memory.write_bytes(to, bytes(length))
        return errno_result(-errno.EFAULT)
    vm.memory.write_bytes(to, _packet_bytes(vm, offset, length))
    return 0


#: the longest skb bpf_skb_change_tail makes in a test run: the skb has no device, so the
#: limit is SKB_MAX_ALLOC (four pages less the aligned skb_shared_info)
SKB_MAX_ALLOC = 4 * 4096 - 320


@FAMILY.helper("bpf_skb_change_tail")
def skb_change_tail(vm: Any, skb: int, new_len: int, flags: int, *_: int) -> int:
    """Cut the packet to ``new_len`` bytes or grow it with zeros, as the kernel does for a
    tc program's skb (whose shortest is its Ethernet header); -EINVAL for flags or a length
    out of range. The packet is replaced (the verifier has invalidated packet pointers):
    ``skb->len`` and ``data_end`` follow, and the test run hands back the new one."""
    new_len &= 0xFFFF_FFFF
    if flags or new_len > SKB_MAX_ALLOC or new_len < ETH_HLEN:
        return errno_result(-errno.EINVAL)
    region, _ = vm.memory.region(INPUT_BASE, 1, False, access=False)
    packet = bytearray(region.data[:new_len])
    packet += bytes(new_len - len(packet))
    charge_copy(vm, new_len)
    vm.memory.unmap(INPUT_BASE)
    vm.memory.map(packet, writable=True, name="packet", base=INPUT_BASE)
    context = next(r for r in vm.memory.regions if r.base == CONTEXT_BASE)
    context.data[0:4] = new_len.to_bytes(4, "little")           # skb->len
    if context.pointers:                                        # data_end, for direct packet access
        context.pointers[80] = INPUT_BASE + new_len
    vm.__dict__["skb_packet"] = packet
    return 0


@FAMILY.helper("bpf_skb_load_bytes_relative")
def skb_load_bytes_relative(vm: Any, skb: int, offset: int, to: int, length: int, start: int) -> int:
    """Copy bytes counted from the MAC or the network header; zeros and -EFAULT past the
    end or for another ``start``."""
    length, offset = length & 0xFFFF_FFFF, offset & 0xFFFF_FFFF
    charge_copy(vm, length)
    vm.memory.check(to, length, True)
    link = vm.__dict__.get("link_header") or b""    # a socket filter's: kept aside
    headers = {HDR_START_MAC: 0, HDR_START_NET: ETH_HLEN}
    begin = headers.get(start & 0xFFFF_FFFF)
    if begin is None or offset > 0xFFFF or begin + offset + length > len(link) + _packet_length(vm):
        vm.memory.write_bytes(to, bytes(length))
        return errno_result(-errno.EFAULT)
    first = begin + offset              # in the link header and the packet after it
    from_link = link[first:first + length]
    inside = max(first - len(link), 0)
    vm.memory.write_bytes(to, from_link + _packet_bytes(vm, inside, length - len(from_link)))
    return 0


@FAMILY.helper("bpf_skb_store_bytes")
def skb_store_bytes(vm: Any, skb: int, offset: int, source: int, length: int, flags: int) -> int:
    """Write the program's bytes into the packet at ``offset``; -EFAULT past its end."""
    if flags & ~(F_RECOMPUTE_CSUM | F_INVALIDATE_HASH):
        return errno_result(-errno.EINVAL)
    offset, length = offset & 0xFFFF_FFFF, length & 0xFFFF_FFFF
    charge_copy(vm, length)
    data = vm.memory.read_bytes(source, length)
    if offset > INT_MAX or offset + length > _packet_length(vm):
        return errno_result(-errno.EFAULT)
    vm.memory.write_bytes(INPUT_BASE + offset, data)
    return 0


@FAMILY.helper("bpf_skb_pull_data")
def skb_pull_data(vm: Any, skb: int, length: int, *_: int) -> int:
    """A test run's packet is all in the linear area: 0, or -ENOMEM past its end."""
    return 0 if length & 0xFFFF_FFFF <= _packet_length(vm) else errno_result(-errno.ENOMEM)


@FAMILY.helper("bpf_redirect")
def redirect(vm: Any, ifindex: int, flags: int, *_: int) -> int:
    """The verdict that sends the packet to ``ifindex`` (a test run goes no further)."""
    if vm.__dict__.get("xdp_frame") is not None:
        return XDP_ABORTED if flags else XDP_REDIRECT
    return TC_ACT_SHOT if flags & ~F_INGRESS else TC_ACT_REDIRECT


@FAMILY.helper("bpf_redirect_peer")
def redirect_peer(vm: Any, ifindex: int, flags: int, *_: int) -> int:
    return TC_ACT_SHOT if flags else TC_ACT_REDIRECT


@FAMILY.helper("bpf_redirect_map")
def redirect_map(vm: Any, handle: int, key: int, flags: int, *_: int) -> int:
    """XDP_REDIRECT when the device/CPU/socket map has an entry at ``key``; else the
    action in the low bits of ``flags`` (broadcasts to a device map always redirect)."""
    target = map_operand(vm, handle)
    allowed = XDP_ACTION_MASK | (F_BROADCAST | F_EXCLUDE_INGRESS if target.type in DEVICE_MAPS else 0)
    if flags & ~allowed:
        return XDP_ABORTED
    found = target.value_buffer((key & 0xFFFF_FFFF).to_bytes(4, "little"), vm.cpu) is not None
    if not found and not flags & F_BROADCAST:
        return flags & XDP_ACTION_MASK
    return XDP_REDIRECT


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


@FAMILY.helper("bpf_xdp_get_buff_len")
def xdp_get_buff_len(vm: Any, ctx: int, *_: int) -> int:
    frame = _frame(vm)
    return frame.tail - frame.head


def _frame_span(vm: Any, offset: int, length: int) -> tuple[Any, int] | None:
    """(frame, buffer index) of ``length`` bytes at ``offset`` into the XDP packet, or
    None past its end."""
    frame = _frame(vm)
    offset, length = offset & 0xFFFF_FFFF, length & 0xFFFF_FFFF
    charge_copy(vm, length)
    if offset + length > frame.tail - frame.head:
        return None
    return frame, frame.head + offset


@FAMILY.helper("bpf_xdp_load_bytes")
def xdp_load_bytes(vm: Any, ctx: int, offset: int, to: int, length: int, *_: int) -> int:
    """Copy frame bytes to the program's buffer; -EINVAL past the end."""
    span = _frame_span(vm, offset, length)
    if span is None:
        return errno_result(-errno.EINVAL)
    frame, start = span
    vm.memory.write_bytes(to, bytes(frame.buffer[start:start + (length & 0xFFFF_FFFF)]))
    return 0


@FAMILY.helper("bpf_xdp_store_bytes")
def xdp_store_bytes(vm: Any, ctx: int, offset: int, source: int, length: int, *_: int) -> int:
    """Write the program's bytes into the frame; -EINVAL past the end."""
    span = _frame_span(vm, offset, length)
    if span is None:
        return errno_result(-errno.EINVAL)
    frame, start = span
    data = vm.memory.read_bytes(source, length & 0xFFFF_FFFF)
    frame.buffer[start:start + len(data)] = data
    return 0
