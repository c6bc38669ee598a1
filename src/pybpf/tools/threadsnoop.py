"""threadsnoop: trace new threads as they are created — BCC's threadsnoop, as BCC does it:
a uprobe on ``pthread_create`` (in libpthread where that library still has it, else in libc,
where glibc 2.34 moved it; the one a process ``-p PID`` maps, through /proc/PID/root), reading
its third argument, the thread's start routine, named in user space through the creating
process's maps and ELF symbols (:mod:`pybpf.symbols`; an address BCC cannot name it shows in
hex, and so does this tool). Built on pybpf's own API. Columns as BCC's: TIME(ms) (since the
first event) PID COMM FUNC; ``--json`` gives ``pid``, ``comm``, ``start`` (the routine's
address) and ``func`` (its name, or the hex address). Threads made without pthread_create
(a raw clone(), another libc) are not seen, as in BCC."""

from __future__ import annotations

import argparse

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, ToolError
from pybpf.tools.tool import Column, EventTool

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

SOURCE = r"""
SEC("uprobe")
int on_pthread_create(struct pt_regs *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->ts = bpf_ktime_get_ns();
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->start = PT_REGS_PARM3(ctx);          /* void *(*start_routine)(void *) */
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""

#: where pthread_create may be, in the order BCC tries them
LIBRARIES = ("pthread", "c")


def pthread_library(pid: int | None = None) -> str:
    """The file whose ``pthread_create`` to probe: libpthread if it defines it (before glibc
    2.34), else libc — as process ``pid`` maps them when given."""
    from pybpf.symbols import ElfSymbols, SymbolError
    from pybpf.tools.probespec import library_path

    for library in LIBRARIES:
        try:
            path = library_path(library, pid)
            if ElfSymbols.cached(path).address("pthread_create"):
                return path
        except (ToolError, SymbolError, OSError):
            continue
    raise ToolError("no pthread_create in libpthread or libc" + (f" of process {pid}" if pid else ""))


def _attach(args: argparse.Namespace):
    """The uprobe on the library's pthread_create (found before anything is loaded)."""
    path = pthread_library(args.pid)

    def attach_programs(loaded: Any) -> list[Any]:
        from pybpf.kernel.attach import attach

        return [attach(loaded.programs["on_pthread_create"], f"uprobe:{path}:pthread_create")]

    return attach_programs


def _name_start(args: argparse.Namespace, event: dict) -> bool:
    """``func``: the start routine's symbol in the creating process (the same
    :class:`~pybpf.symbols.Symbolizer` for the whole run, kept in ``args``)."""
    from pybpf.symbols import SymbolError, Symbolizer

    symbolizer = vars(args).setdefault("symbolizer", Symbolizer())
    try:
        name = symbolizer.user(event["pid"], event["start"]).name
    except (SymbolError, OSError):
        name = None
    event["func"] = name or hex(event["start"])
    return True


TOOL = EventTool(
    name="threadsnoop",
    description=DESCRIPTIONS["threadsnoop"],
    layout=EventLayout((("pid", "u32"), ("start", "u64"), ("comm", "str:16"))),
    source=SOURCE,
    columns=(Column("TIME(ms)", "_elapsed_ms", -10), Column("PID", "pid", -7), Column("COMM", "comm", -16),
             Column("FUNC", "func", -1)),
    keep=_name_start,
    attach_programs=_attach,
)
