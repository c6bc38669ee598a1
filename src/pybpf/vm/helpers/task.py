"""The helpers that describe the current task, for tracing programs run on the vm engine:
the "current task" is this Python process (its pid, uid/gid, comm and cgroup)."""

from __future__ import annotations

import errno
import os

from pybpf.vm.helpers.operands import charge_copy, errno_result
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("task")


@FAMILY.helper("bpf_get_current_pid_tgid")
def get_current_pid_tgid(vm: Any, *_: int) -> int:
    """This process as the current task (tgid in the high half)."""
    return os.getpid() << 32 | os.getpid()


@FAMILY.helper("bpf_get_current_uid_gid")
def get_current_uid_gid(vm: Any, *_: int) -> int:
    """This process's real gid (high half) and uid (low half)."""
    return os.getgid() << 32 | os.getuid()


def _comm() -> bytes:
    try:
        with open("/proc/self/comm", "rb") as f:
            return f.read().rstrip(b"\n")[:15]
    except OSError:
        return b"python"


@FAMILY.helper("bpf_get_current_comm")
def get_current_comm(vm: Any, dst: int, size: int, *_: int) -> int:
    """This process's command name, NUL-padded to ``size`` bytes."""
    size &= 0xFFFF_FFFF            # a u32, as the helper's prototype says
    if size == 0:
        return errno_result(-errno.EINVAL)
    vm.memory.check(dst, size, True)   # before anything of that size is made
    charge_copy(vm, size)
    vm.memory.write_bytes(dst, _comm()[:size - 1].ljust(size, b"\0"))
    return 0


@FAMILY.helper("bpf_get_current_cgroup_id")
def get_current_cgroup_id(vm: Any, *_: int) -> int:
    """The inode number of this process's cgroup v2 directory (0 when not found)."""
    try:
        with open("/proc/self/cgroup") as f:
            path = next(line.split("::", 1)[1].strip() for line in f if line.startswith("0::"))
        return os.stat(f"/sys/fs/cgroup{path}").st_ino
    except (OSError, StopIteration):
        return 0
