"""The permissions of files pybpf writes through a temporary file and a rename.

A temporary file from ``tempfile.mkstemp`` is private (0600), so a file renamed into
place from one would be unreadable to others where ``tcpdump -w`` or a shell
redirection would have made it 0644. :func:`new_file_mode` gives what writing the file
in place would have given.
"""

from __future__ import annotations

import os
import stat


def umask() -> int:
    """The process's umask, read without changing it where Linux says what it is
    (``os.umask`` can only be read by setting it, a race with threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(path: str | os.PathLike) -> int:
    """The permissions for a file about to be renamed to ``path``: those of the regular
    file it replaces (as ``open(path, "w")`` keeps them), else 0666 less the umask."""
    try:
        existing = os.stat(path)
        if stat.S_ISREG(existing.st_mode):
            return stat.S_IMODE(existing.st_mode)
    except OSError:
        pass
    return 0o666 & ~umask()


def new_private_file(directory: str | os.PathLike, prefix: str = "", suffix: str = "") -> tuple[int, str]:
    """A new empty file (0600) with an unused name in ``directory``, open for writing:
    ``(fd, path)``, as ``tempfile.mkstemp`` makes one — without importing tempfile (with
    shutil, random and the compression modules: ~3 ms of a command's start)."""
    while True:
        path = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), path
        except FileExistsError:
            continue
