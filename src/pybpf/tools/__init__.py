"""BCC's tools, by name: ``pybpf tool NAME [ARGS]``. One module per tool, each built on
pybpf's own API with a C program compiled by pybpf.toolchain, on tracepoints (kernels
without kprobes run them all). A module defines ``TOOL`` — an object with ``name``,
``description``, ``add_arguments(parser)`` and ``run(args)``; event tools also have
``events(args)``, which ``pybpf record`` writes to trace files."""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

    from pybpf.tools.events import ToolError

#: each tool's one line, in the order ``pybpf tool --list`` shows them; a tool's module
#: takes its ``description`` from here, so listing the tools imports none of them (and
#: nothing they import: the tracing runtime, dataclasses, typing)
DESCRIPTIONS: dict[str, str] = {
    "argdist": "Count or histogram the values of expressions at user functions, tracepoints, USDT probes.",
    "bashreadline": "Print entered bash commands, system wide.",
    "biolatency": "Summarize block device I/O latency as a histogram.",
    "biosnoop": "Trace block I/O: issuing task, disk, size and latency of each request.",
    "bitesize": "Summarize block I/O size per command as histograms.",
    "cpudist": "Summarize on-CPU (or, with -O, off-CPU) time per task as a histogram.",
    "execsnoop": "Trace new programs as they start (exec), with their arguments.",
    "exitsnoop": "Trace process exits, with their age and exit code or signal.",
    "funccount": "Count user functions, tracepoints and USDT probes matching a pattern.",
    "funclatency": "Time user functions and print their latency as a histogram.",
    "gethostlatency": "Show latency of host name lookups (getaddrinfo, gethostbyname) as they happen.",
    "hardirqs": "Summarize hard irq event time as totals or histograms.",
    "killsnoop": "Trace signals sent by kill().",
    "memleak": "Outstanding (not freed) allocations by allocating stack: libc for a process, kmem for the kernel.",
    "mountsnoop": "Trace mount() and umount() calls.",
    "offcputime": "Summarize off-CPU time by stack trace (where and how long tasks block).",
    "oomkill": "Trace out-of-memory kills.",
    "opensnoop": "Trace open() calls (open, openat, openat2) with their paths and results.",
    "profile": "Sample stack traces at a timed interval (CPU profile, flame graphs).",
    "pythoncalls": "Count a Python process's function calls (and their time with -L), by USDT.",
    "pythonflow": "Print a Python process's function calls and returns, indented by depth (USDT).",
    "runqlat": "Summarize run queue (scheduler) latency as a histogram.",
    "runqlen": "Summarize scheduler run queue length as a histogram (sampled at 99 Hz).",
    "softirqs": "Summarize soft irq event time as totals or histograms.",
    "stackcount": "Count events (tracepoints, user functions, USDT) by stack trace.",
    "statsnoop": "Trace stat() calls with their paths and results.",
    "syscount": "Summarize syscall counts and latencies, by syscall or by process, every interval.",
    "tcpaccept": "Trace TCP passive connections (accept()).",
    "tcpconnect": "Trace TCP active connections (connect()).",
    "tcplife": "Trace the lifespan of TCP sessions and summarize.",
    "tcpretrans": "Trace TCP retransmits.",
    "tcpstates": "Trace TCP state changes, with the time spent in each state.",
    "threadsnoop": "Trace thread creation (pthread_create), with each thread's start routine.",
    "trace": "Print a message per call of user functions, returns, tracepoints and USDT probes.",
}
#: the tools, in the order ``pybpf tool --list`` shows them
NAMES: tuple[str, ...] = tuple(DESCRIPTIONS)


def get(name: str) -> Any:
    """The tool called ``name``."""
    import importlib

    if name not in NAMES:
        from pybpf.tools.events import ToolError

        raise ToolError(f"no tool called {name!r}; `pybpf tool --list` shows them")
    return importlib.import_module(f"pybpf.tools.{name}").TOOL


def __getattr__(name: str) -> type[ToolError]:
    """:class:`ToolError`, imported on first use (its module imports dataclasses)."""
    if name == "ToolError":
        from pybpf.tools.events import ToolError

        return ToolError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DESCRIPTIONS", "NAMES", "ToolError", "get"]
