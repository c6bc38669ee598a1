"""The Internet-checksum helpers tc and XDP programs use when they rewrite headers:
bpf_csum_diff, bpf_l3_csum_replace and bpf_l4_csum_replace, with the kernel's
arithmetic (RFC 1624 incremental updates on 16-bit ones'-complement sums).

Checksums are byte-order neutral: a program passes the old and new header words as it
loaded them from the packet, and the checksum field is read and written the same way, so
everything here works on little-endian loads of network-order bytes, as the kernel does
on x86. A test run's skb is not CHECKSUM_PARTIAL, so the L4 helpers update the field
itself, the pseudo-header flag changing nothing a program can see.
"""

from __future__ import annotations

import errno
import struct

from pybpf.vm.errors import VMError
from pybpf.vm.helpers.operands import charge_copy, errno_result
from pybpf.vm.helpers.registry import Family
from pybpf.vm.memory import INPUT_BASE

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("checksums")

M32 = 0xFFFF_FFFF
#: bpf_l3/l4_csum_replace: the low bits give the size of the replaced field (0: ``to`` is
#: a checksum difference from bpf_csum_diff)
HDR_FIELD_MASK = 0xF
F_PSEUDO_HDR, F_MARK_MANGLED_0, F_MARK_ENFORCE, F_IPV6 = 1 << 4, 1 << 5, 1 << 6, 1 << 7
#: what a zero UDP checksum is written as after an update (RFC 768: 0 means "none")
CSUM_MANGLED_0 = 0xFFFF
#: the most bytes bpf_csum_diff reads (more than the verifier lets any buffer have: the
#: bound only keeps a run's copying finite)
CSUM_DIFF_MAX = 1 << 20


def csum_add(a: int, b: int) -> int:
    """32-bit ones'-complement addition (the end-around carry folded back in)."""
    total = (a & M32) + (b & M32)
    return (total & M32) + (total >> 32)


def csum_sub(a: int, b: int) -> int:
    return csum_add(a, ~b & M32)


def csum_fold(value: int) -> int:
    """A 32-bit partial sum folded to the 16-bit checksum field (complemented)."""
    value = (value & 0xFFFF) + (value >> 16)
    value = (value & 0xFFFF) + (value >> 16)
    return ~value & 0xFFFF


def csum_partial(data: bytes, seed: int) -> int:
    """The 32-bit partial sum of ``data`` (little-endian words, the last one padded with
    zeros) and ``seed``, as x86's csum_partial computes it, folded to 32 bits."""
    total = seed & M32
    for (word,) in struct.iter_unpack("<I", data + bytes(-len(data) % 4)):
        total += word
    while total >> 32:
        total = (total & M32) + (total >> 32)
    return total


@FAMILY.helper("bpf_csum_diff")
def csum_diff(vm: Any, src: int, src_size: int, dst: int, dst_size: int, seed: int) -> int:
    """The checksum difference between the bytes at ``src`` and those at ``dst`` (either
    may be empty, any length), added to ``seed``, folded to 16 bits — the sum of the new
    bytes less the sum of the old, as Linux computes it since 6.13."""
    src_size, dst_size, seed = src_size & M32, dst_size & M32, seed & M32
    if src_size + dst_size > CSUM_DIFF_MAX:
        return errno_result(-errno.EINVAL)
    charge_copy(vm, src_size + dst_size)
    old = vm.memory.read_bytes(src, src_size) if src_size else b""
    new = vm.memory.read_bytes(dst, dst_size) if dst_size else b""
    if old and new:
        total = csum_sub(csum_partial(new, seed), csum_partial(old, 0))
    elif new:
        total = csum_partial(new, seed)
    elif old:
        total = ~csum_partial(old, ~seed & M32) & M32
    else:
        total = seed
    return csum_from32to16(total)


def csum_from32to16(value: int) -> int:
    """A 32-bit partial sum folded to 16 bits, not complemented: what bpf_csum_diff returns
    since Linux 6.13, so that its result is the same on every architecture."""
    value = (value & 0xFFFF) + (value >> 16)
    return (value & 0xFFFF) + (value >> 16)


def _field(vm: Any, offset: int) -> int | None:
    """The address of the 16-bit checksum at ``offset`` into the packet (from skb->data),
    or None where the kernel answers -EFAULT (past 64 KiB, odd, or beyond the packet)."""
    offset &= M32
    if offset > 0xFFFF or offset & 1:
        return None
    try:
        vm.memory.check(INPUT_BASE + offset, 2, True)
    except VMError:
        return None
    return INPUT_BASE + offset


def _replace(old_sum: int, size: int, old: int, new: int) -> int | None:
    """The checksum after replacing a ``size``-byte field ``old`` with ``new`` (or, for
    size 0, after adding the bpf_csum_diff difference ``new``); None for a size the
    helpers refuse."""
    if size == 0:
        return csum_fold(csum_add(new & M32, ~old_sum & M32))
    if size not in (2, 4):
        return None
    mask = 0xFFFF if size == 2 else M32
    return csum_fold(csum_add(csum_sub(~old_sum & M32, old & mask), new & mask))


@FAMILY.helper("bpf_l3_csum_replace")
def l3_csum_replace(vm: Any, skb: int, offset: int, old: int, new: int, flags: int) -> int:
    """Update the IP header checksum at ``offset`` for a field changed from ``old`` to
    ``new`` (flags: the field's size, 2 or 4; or 0 with ``new`` a bpf_csum_diff result)."""
    if flags & ~HDR_FIELD_MASK:
        return errno_result(-errno.EINVAL)
    address = _field(vm, offset)
    if address is None:
        return errno_result(-errno.EFAULT)
    size = flags & HDR_FIELD_MASK
    if size == 0 and old:
        return errno_result(-errno.EINVAL)
    updated = _replace(vm.memory.load(address, 2), size, old, new)
    if updated is None:
        return errno_result(-errno.EINVAL)
    vm.memory.store(address, 2, updated)
    return 0


@FAMILY.helper("bpf_l4_csum_replace")
def l4_csum_replace(vm: Any, skb: int, offset: int, old: int, new: int, flags: int) -> int:
    """Update a TCP/UDP checksum as :func:`l3_csum_replace` does the IP one; with
    BPF_F_MARK_MANGLED_0 a zero (absent) UDP checksum stays zero, and a result of zero is
    written as 0xffff."""
    if flags & ~(HDR_FIELD_MASK | F_PSEUDO_HDR | F_MARK_MANGLED_0 | F_MARK_ENFORCE | F_IPV6):
        return errno_result(-errno.EINVAL)
    address = _field(vm, offset)
    if address is None:
        return errno_result(-errno.EFAULT)
    mangled_zero, enforce = flags & F_MARK_MANGLED_0, flags & F_MARK_ENFORCE
    current = vm.memory.load(address, 2)
    if mangled_zero and not enforce and current == 0:
        return 0
    size = flags & HDR_FIELD_MASK
    if size == 0 and old:
        return errno_result(-errno.EINVAL)
    updated = _replace(current, size, old, new)
    if updated is None:
        return errno_result(-errno.EINVAL)
    if mangled_zero and updated == 0:
        updated = CSUM_MANGLED_0
    vm.memory.store(address, 2, updated)
    return 0
