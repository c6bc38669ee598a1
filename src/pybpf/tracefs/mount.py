"""Finding tracefs, and mounting it where it is not mounted yet (fresh VMs and
containers often lack the mount; root can add it).

Tracepoint ids, formats and trace_pipe all live there, so every tracepoint attach starts
here.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from pybpf.tracefs.errors import TracefsError

#: where tracefs lives on current kernels, then the older place under debugfs
CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def find_tracefs(mount: bool = True) -> Path:
    """The tracefs root; with ``mount`` (and root), mount it at /sys/kernel/tracing first
    if no candidate holds it."""
    for candidate in CANDIDATES:
        if os.path.isdir(os.path.join(candidate, "events")):
            return Path(candidate)
    if mount:
        _mount_tracefs(CANDIDATES[0])
        if os.path.isdir(os.path.join(CANDIDATES[0], "events")):
            return Path(CANDIDATES[0])
    raise TracefsError(
        f"tracefs is not mounted ({' or '.join(CANDIDATES)}); as root run: "
        f"mount -t tracefs nodev {CANDIDATES[0]}"
    )


def _mount_tracefs(target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"nodev", target.encode(), b"tracefs", 0, None) != 0:
        errno = ctypes.get_errno()
        raise TracefsError(f"tracefs is not mounted and mounting it at {target} failed: {os.strerror(errno)}"
                           + (" (needs root)" if errno == 1 else ""))
