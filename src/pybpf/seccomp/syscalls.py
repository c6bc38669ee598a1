"""x86-64 system call numbers by name, and where the table comes from.

The numbers are data committed in :mod:`pybpf.seccomp.syscalls_x86_64`, generated at
development time from the kernel's UAPI header ``asm/unistd_64.h`` (Debian's
linux-libc-dev installs it as /usr/include/x86_64-linux-gnu/asm/unistd_64.h, itself
generated from the kernel's arch/x86/entry/syscalls/syscall_64.tbl). Committed rather than
read at run time so that a policy means the same on a machine without kernel headers.
Regenerate with ``python -m pybpf.seccomp.gen_syscalls [path/to/unistd_64.h [origin]]``.
"""

from __future__ import annotations

from pybpf.cbpf.instruction import CbpfError
from pybpf.seccomp.syscalls_x86_64 import SOURCE, SYSCALLS

__all__ = ["SOURCE", "SYSCALLS", "name", "number"]  # SOURCE: the header the table was generated from

_BY_NUMBER = {number: name for name, number in SYSCALLS.items()}


def number(syscall: str | int) -> int:
    """The x86-64 number of a system call given by name (a number passes through)."""
    if isinstance(syscall, int):
        return syscall
    try:
        return SYSCALLS[syscall]
    except KeyError:
        raise CbpfError(f"unknown x86-64 system call {syscall!r}") from None


def name(nr: int) -> str:
    """The name of an x86-64 system call number, or ``syscall_<nr>`` when it has none."""
    return _BY_NUMBER.get(nr, f"syscall_{nr}")
