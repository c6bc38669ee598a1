"""Where the toolchain's shipped files live (its caches are :mod:`pybpf.cache`'s)."""

from __future__ import annotations

from pathlib import Path

#: the running kernel's BTF (here rather than in pybpf.toolchain.vmlinux, so that the CLI
#: can show it as a default without importing the BTF reader)
KERNEL_BTF = "/sys/kernel/btf/vmlinux"


def include_dir() -> Path:
    """The project's BPF headers (``#include <pybpf/bpf.h>``): package data beside this
    module (pip installs packages as directories; importlib.resources would cost ~8 ms
    of every command that shows this path as a default)."""
    return Path(__file__).parent / "include"
