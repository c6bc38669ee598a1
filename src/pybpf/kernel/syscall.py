"""The bpf(2) system call through ctypes, and errors that say what to do about a refusal.

``bpf(cmd, attr)`` passes a :mod:`pybpf.kernel.attrs` structure and returns the kernel's
result (a new fd for the commands that make one, else 0). A refusal raises
:class:`~pybpf.errors.BPFError` naming the command, the errno (symbol and text)
and a sentence for the common causes: EPERM means privileges, E2BIG on an update means
a full map, and so on. Callers add ``target`` (which map or program) and may give a hint
of their own when they know better.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import os

from pybpf.errors import BPFError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    _C = TypeVar("_C")

    def _simple_enum(etype: type) -> Callable[[_C], _C]:
        """Type checkers see the class as written: an IntEnum."""
        ...
    _Members = enum.IntEnum
else:
    from enum import _simple_enum
    _Members = object

_SYSCALL_NR = {"x86_64": 321, "aarch64": 280}


# Made an IntEnum by enum's ``_simple_enum``, which makes the 36 members at once, as
# pybpf.object.kinds makes its enums (the metaclass, member by member: ~0.4 ms more of
# every kernel command); tests/kernel/test_syscall.py compares it with the metaclass's.
@_simple_enum(enum.IntEnum)
class Command(_Members):
    """enum bpf_cmd."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35

    @property
    def symbol(self) -> str:
        """The name as bpf.h spells it: ``BPF_MAP_CREATE``."""
        return f"BPF_{self.name}"


ENOTSUPP = 524  # the kernel's internal "not supported", which bpf() lets out

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]


def syscall_number() -> int:
    """bpf()'s number on this machine; BPFError (ENOSYS) on an architecture we lack."""
    machine = os.uname().machine
    try:
        return _SYSCALL_NR[machine]
    except KeyError:
        raise BPFError("bpf", errno.ENOSYS, f"pybpf does not know bpf()'s syscall number "
                       f"on {machine} (it knows {', '.join(_SYSCALL_NR)})") from None


_NR = _SYSCALL_NR.get(os.uname().machine, -1)

_GENERIC_HINTS = {
    errno.EPERM: "not permitted: run as root or with CAP_BPF (plus CAP_PERFMON for "
                 "tracing, CAP_NET_ADMIN for networking programs); for unprivileged use "
                 "see sysctl kernel.unprivileged_bpf_disabled",
    errno.EACCES: "permission denied by the kernel's checks (the verifier, a read-only "
                  "map, or an LSM)",
    errno.E2BIG: "too big: the attributes are larger than this kernel understands, or "
                 "the map is full",
    errno.ENOENT: "no such element or object",
    errno.EEXIST: "the object or element already exists",
    errno.EBADF: "the file descriptor is not an open BPF object of the right kind",
    errno.ENOMEM: "the kernel could not allocate memory (check RLIMIT_MEMLOCK on kernels "
                  "before 5.11 and the memory cgroup)",
    errno.EINVAL: "the kernel rejected these attributes: a field this kernel does not "
                  "support, or values that do not fit the object's type",
    errno.EOPNOTSUPP: "this object type does not support the operation",
    ENOTSUPP: "this kernel does not support the operation for this object",
    errno.ENOSPC: "no space left (a verifier log buffer too small, or a map out of room)",
    errno.EFAULT: "the kernel could not read or write one of the buffers passed",
    errno.EBUSY: "the object is busy (already attached or in use)",
    errno.ENOSYS: "this kernel has no bpf() system call (CONFIG_BPF_SYSCALL is off)",
}


_MAP_WRITES = {Command.MAP_UPDATE_ELEM, Command.MAP_DELETE_ELEM, Command.MAP_UPDATE_BATCH,
               Command.MAP_DELETE_BATCH}


def hint(command: Command, err: int) -> str:
    """The actionable sentence for ``err`` from ``command`` (specific, then generic)."""
    if command == Command.PROG_LOAD and err == errno.E2BIG:
        return ("the program is too large or too complex for the verifier, which walks every path "
                "(each iteration of a loop counts) up to 1,000,000 processed instructions; or the "
                "attributes are larger than this kernel understands")
    if command in (Command.MAP_UPDATE_ELEM, Command.MAP_UPDATE_BATCH) and err == errno.E2BIG:
        return "the map is full (no free entry for a new key)"
    if command in (Command.MAP_UPDATE_ELEM, Command.MAP_UPDATE_BATCH) and err == errno.EEXIST:
        return "the element already exists (the update said BPF_NOEXIST)"
    if command in (Command.LINK_CREATE, Command.PROG_ATTACH, Command.RAW_TRACEPOINT_OPEN) and err == errno.EEXIST:
        return ("this program is already attached there (a hook runs a program once: close the first "
                "link, or load the program again to attach a second copy)")
    if command in (Command.MAP_UPDATE_ELEM, Command.MAP_UPDATE_BATCH) and err == errno.ENOENT:
        return "the key is not in the map (the update said BPF_EXIST)"
    if command in _MAP_WRITES and err == errno.EPERM:
        return "the map is frozen or read-only for userspace (or CAP_BPF is missing)"
    if command in (Command.OBJ_GET, Command.OBJ_PIN) and err == errno.ENOENT:
        return "no such path in a BPF filesystem"
    if command == Command.OBJ_PIN and err == errno.EPERM:
        return "the path is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)"
    if command.name.endswith("GET_FD_BY_ID") and err == errno.ENOENT:
        return "no loaded object has this id"
    if command == Command.ENABLE_STATS and err == errno.EBUSY:
        return "statistics are already being enabled by another caller"
    return _GENERIC_HINTS.get(err, "")


def bpf(command: Command, attr: ctypes.Structure, target: str = "",
        hints: dict[int, str] | None = None) -> int:
    """Run one bpf() command; the kernel's non-negative result, or raise BPFError.

    ``target`` names the object for the message ("map 'counts'"); ``hints`` overrides
    the sentence for particular errnos when the caller knows the cause better.
    """
    return bpf_at(command, ctypes.addressof(attr), ctypes.sizeof(attr), target, hints)


def bpf_at(command: Command, address: int, size: int, target: str = "",
           hints: dict[int, str] | None = None) -> int:
    """:func:`bpf` for an attr whose address and size the caller computed once (the
    per-element map commands, where this saves a measurable share of each call)."""
    if _NR < 0:
        syscall_number()
    while True:
        result = _syscall(_NR, command, address, size)
        if result >= 0:
            return result
        err = ctypes.get_errno()
        if err != errno.EINTR:
            break
    text = (hints or {}).get(err) or hint(command, err)
    raise BPFError(command.symbol, err, text, target)


def cstring(data: bytes) -> ctypes.Array:
    """A NUL-terminated buffer the kernel can read for a path, name or license."""
    return ctypes.create_string_buffer(data)
