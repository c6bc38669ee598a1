"""The BPF filesystem objects are pinned in, mounted at /sys/fs/bpf when it is not yet.

Many machines boot without bpffs at /sys/fs/bpf (systemd mounts it; minimal VMs and
containers often do not), and then every pin fails with a bare ENOENT. bpftool and libbpf's
tools mount it there themselves before pinning under it; so does :func:`mount_for_pin`,
so that ``Map.pin("/sys/fs/bpf/x")`` works as root on such a machine as it does with
bpftool. Nothing is mounted anywhere else: a path outside /sys/fs/bpf must already be on
a BPF filesystem the user mounted.
"""

from __future__ import annotations

import ctypes
import os

#: where bpffs is conventionally mounted (bpftool's and libbpf's default)
DEFAULT = "/sys/fs/bpf"


def filesystem_of(path: str) -> str | None:
    """The type of the filesystem ``path`` is on (``"bpf"``, ``"sysfs"``, ...), from the
    longest mount point of /proc/self/mountinfo containing it; ``None`` where that file
    cannot be read."""
    best, fstype = -1, None
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > best:
            best, fstype = len(mount), line.split(" - ", 1)[1].split()[0]
    return fstype


def mount_for_pin(path: str) -> None:
    """Mount bpffs at /sys/fs/bpf if ``path`` is under it and it is not mounted yet (as
    bpftool does before a pin). Does nothing elsewhere, and nothing when the mount is not
    permitted: the pin itself then fails and says why."""
    absolute = os.path.abspath(path)
    if not absolute.startswith(DEFAULT + "/") or not os.path.isdir(DEFAULT):
        return
    if filesystem_of(DEFAULT) == "bpf":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.mount(b"bpf", DEFAULT.encode(), b"bpf", 0, b"mode=0700")
