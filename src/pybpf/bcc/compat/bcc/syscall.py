"""bcc.syscall: x86-64 system call numbers and names, as bytes like BCC's."""

from pybpf.seccomp.syscalls_x86_64 import SYSCALLS

syscalls = {number: name.encode() for name, number in SYSCALLS.items()}


def syscall_name(syscall_num: int) -> bytes:
    return syscalls.get(syscall_num, b"[unknown: %d]" % syscall_num)
