"""Where the toolchain's files live: the shipped headers and the user cache."""

from __future__ import annotations

import os
from pathlib import Path

#: the running kernel's BTF (here rather than in pybpf.toolchain.vmlinux, so that the CLI
#: can show it as a default without importing the BTF reader)
KERNEL_BTF = "/sys/kernel/btf/vmlinux"


def include_dir() -> Path:
    """The project's BPF headers (``#include <pybpf/bpf.h>``): package data beside this
    module (pip installs packages as directories; importlib.resources would cost ~8 ms
    of every command that shows this path as a default)."""
    return Path(__file__).parent / "include"


def cache_root() -> Path:
    """The toolchain's user cache ($XDG_CACHE_HOME/pybpf, else ~/.cache/pybpf)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybpf"


def cache_dir() -> Path:
    """Where compiled objects are kept ($XDG_CACHE_HOME/pybpf/objects)."""
    return cache_root() / "objects"
