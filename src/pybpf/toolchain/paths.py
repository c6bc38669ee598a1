"""Where the toolchain's shipped files live (its caches are :mod:`pybpf.cache`'s)."""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (CLI start-up)
if TYPE_CHECKING:
    from pathlib import Path

#: the running kernel's BTF (here rather than in pybpf.toolchain.vmlinux, so that the CLI
#: can show it as a default without importing the BTF reader)
KERNEL_BTF = "/sys/kernel/btf/vmlinux"


def include_dir() -> Path:
    """The project's BPF headers (``#include <pybpf/bpf.h>``): package data beside this
    module (pip installs packages as directories; importlib.resources would cost ~8 ms
    of every command that shows this path as a default)."""
    from pathlib import Path

    return Path(__file__).parent / "include"


def uapi_include_dirs() -> list[Path]:
    """The Linux uapi headers (``<linux/bpf.h>``, ``<linux/if_ether.h>``, ``<linux/pkt_cls.h>``,
    ...) that the ziglang wheel ships for cross-compiling: programs written against libbpf
    include them, and they need no kernel headers on the machine. Empty where the ziglang
    package is not installed (a system clang then finds its own, if any)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return []
    base = Path(next(iter(spec.submodule_search_locations))) / "lib" / "libc" / "include"
    return [d for d in (base / "any-linux-any", base / "x86-linux-any") if d.is_dir()]

