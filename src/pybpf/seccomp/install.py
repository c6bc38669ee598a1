"""Installing a seccomp filter on the calling thread, and running a program under one.

Installing is one-way: a filter stays for the life of the thread and its children, so
:func:`install` is meant for a child process (:func:`run_confined` forks, installs and
execs). No root is needed: with ``PR_SET_NO_NEW_PRIVS`` set (also one-way) the kernel
lets any thread filter itself, since it can no longer gain privileges by exec.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
from collections.abc import Callable, Sequence

from pybpf.cbpf.instruction import Instruction, encode
from pybpf.seccomp import syscalls
from pybpf.seccomp.check import check_filter
from pybpf.seccomp.policy import SeccompPolicy

PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def prepare(program: Sequence[Instruction] | SeccompPolicy, flags: int = 0) -> Callable[[], None]:
    """A function that installs the filter on the thread calling it. Everything that can
    fail for a reason other than the kernel (building, checking, encoding, loading libc)
    happens now, so the returned function is safe between fork and exec."""
    if platform.machine() != "x86_64":
        raise OSError(f"seccomp filters here check for x86-64 system calls, not {platform.machine()}")
    if isinstance(program, SeccompPolicy):
        program = program.build()
    check_filter(program)
    code = ctypes.create_string_buffer(encode(program))
    fprog = _SockFprog(len(program), ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    number = syscalls.number("seccomp")

    def install_now() -> None:
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(error)}")
        if libc.syscall(number, SECCOMP_SET_MODE_FILTER, ctypes.c_ulong(flags), ctypes.byref(fprog)) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"seccomp(SECCOMP_SET_MODE_FILTER): {os.strerror(error)}")

    install_now.keep = (code, fprog)  # the kernel reads them at the call: keep them alive
    return install_now


def install(program: Sequence[Instruction] | SeccompPolicy, flags: int = 0) -> None:
    """Filter the calling thread (and, with SECCOMP_FILTER_FLAG_TSYNC, its process)
    from now on. Irreversible: call it in a child process."""
    prepare(program, flags)()


def run_confined(policy: SeccompPolicy | Sequence[Instruction], argv: Sequence[str],
                 **options) -> subprocess.CompletedProcess:
    """Run ``argv`` under the filter: fork, install in the child, exec. ``options`` go
    to :func:`subprocess.run` (``capture_output=True``, ``text=True``...). The filter
    must allow what exec and the program need; a call it kills shows as returncode -31
    (SIGSYS)."""
    return subprocess.run(list(argv), preexec_fn=prepare(policy), **options)
