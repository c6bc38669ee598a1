"""BCC's tools, by name: ``pybpf tool NAME [ARGS]``. One module per tool, each built on
pybpf's own API with a C program compiled by pybpf.toolchain, on tracepoints (kernels
without kprobes run them all). A module defines ``TOOL`` — an object with ``name``,
``description``, ``add_arguments(parser)`` and ``run(args)``; event tools also have
``events(args)``, which ``pybpf record`` writes to trace files."""

from __future__ import annotations

import importlib
from typing import Any

from pybpf.tools.events import ToolError

#: the tools, in the order ``pybpf tool --list`` shows them
NAMES: tuple[str, ...] = ("argdist", "bashreadline", "biolatency", "biosnoop", "bitesize", "cpudist", "execsnoop", "exitsnoop", "funccount", "funclatency", "gethostlatency", "hardirqs", "killsnoop", "memleak", "mountsnoop", "offcputime", "oomkill", "opensnoop", "profile", "pythoncalls", "pythonflow", "runqlat", "runqlen", "softirqs", "stackcount", "statsnoop", "syscount", "tcpaccept", "tcpconnect", "tcplife", "tcpretrans", "tcpstates", "threadsnoop", "trace")


def get(name: str) -> Any:
    """The tool called ``name``."""
    if name not in NAMES:
        raise ToolError(f"no tool called {name!r}; `pybpf tool --list` shows them")
    return importlib.import_module(f"pybpf.tools.{name}").TOOL


__all__ = ["NAMES", "ToolError", "get"]
