"""``struct seccomp_data``, the 64 bytes a seccomp filter reads (include/uapi/linux/seccomp.h)::

    struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };

The kernel lets a filter read it only with 32-bit aligned ``ld [k]`` and answers them in
native byte order, so each 64-bit field is two words, the low one first on x86-64 (little
endian). The cBPF interpreter loads packet words big-endian; :func:`pack` therefore lays
out each 32-bit word big-endian, so that ``ld [k]`` sees exactly the value the kernel
would give.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from pybpf.cbpf.instruction import CbpfError

#: AUDIT_ARCH_X86_64 = EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE (linux/audit.h)
AUDIT_ARCH_X86_64 = 0xC000_003E
#: AUDIT_ARCH_I386 = EM_386 (3) | __AUDIT_ARCH_LE: 32-bit programs on the same kernel
AUDIT_ARCH_I386 = 0x4000_0003
#: x32 system calls have this bit set in nr under AUDIT_ARCH_X86_64
X32_SYSCALL_BIT = 0x4000_0000
SIZE = 64
NR, ARCH, IP = 0, 4, 8
M64 = (1 << 64) - 1


def arg_offsets(index: int) -> tuple[int, int]:
    """(low word, high word) offsets of ``args[index]`` on a little-endian machine."""
    if not 0 <= index < 6:
        raise CbpfError(f"system calls have arguments 0 to 5, not {index}")
    low = 16 + 8 * index
    return low, low + 4


def pack(nr: int, args: Sequence[int] = (), arch: int = AUDIT_ARCH_X86_64, ip: int = 0) -> bytes:
    """The 64 bytes a filter sees for this call, laid out for the cBPF interpreter (see
    the module text); arguments are taken modulo 2**64 as registers hold them."""
    if len(args) > 6:
        raise CbpfError(f"a system call has at most 6 arguments, not {len(args)}")
    words = [nr & 0xFFFF_FFFF, arch & 0xFFFF_FFFF]
    for value in (ip, *args, *[0] * (6 - len(args))):
        value &= M64
        words += [value & 0xFFFF_FFFF, value >> 32]
    return struct.pack(">16I", *words)
