"""The kernel's tracepoints: which exist, their ids and formats, and — for functions a
kernel cannot probe — the tracepoint that sees the same event.

Users type ``tracepoint:syscalls:sys_enter_openat`` (bpftrace) or
``syscalls:sys_enter_openat`` (perf); a typo deserves the closest real names, and a
kprobe on a kernel without kprobes deserves the tracepoint to use instead.
"""

from __future__ import annotations

import difflib
import fnmatch
from functools import cached_property
from pathlib import Path

from pybpf.tracefs.errors import TracefsError
from pybpf.tracefs.format import TracepointFormat, parse_format
from pybpf.tracefs.mount import find_tracefs

#: prefixes the kernel puts on syscall entry points (x86-64, arm64, generic, compat)
_SYSCALL_PREFIXES = ("__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__se_sys_", "__do_sys_",
                     "__x64_compat_sys_", "ksys_", "sys_", "vfs_")
#: well-known kernel functions whose events a stable tracepoint reports
_FUNCTION_TRACEPOINTS = {
    "tcp_v4_connect": "sock:inet_sock_set_state",
    "tcp_v6_connect": "sock:inet_sock_set_state",
    "tcp_set_state": "sock:inet_sock_set_state",
    "inet_csk_accept": "sock:inet_sock_set_state",
    "do_exit": "sched:sched_process_exit",
    "wake_up_new_task": "sched:sched_wakeup_new",
    "kernel_clone": "sched:sched_process_fork",
    "_do_fork": "sched:sched_process_fork",
    "finish_task_switch": "sched:sched_switch",
    "do_execveat_common": "sched:sched_process_exec",
    "bprm_execve": "sched:sched_process_exec",
    "blk_account_io_start": "block:block_io_start",
    "blk_account_io_done": "block:block_io_done",
    "blk_mq_start_request": "block:block_rq_issue",
    "handle_mm_fault": "exceptions:page_fault_user",
    "oom_kill_process": "oom:mark_victim",
}


class Tracefs:
    """One tracefs mount: events, formats, trace_pipe."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else find_tracefs()

    @cached_property
    def events(self) -> frozenset[str]:
        """Every tracepoint as ``category:name``."""
        events_dir = self.root / "events"
        return frozenset(
            f"{category.name}:{event.name}"
            for category in events_dir.iterdir() if category.is_dir()
            for event in category.iterdir() if (event / "format").exists()
        )

    def match(self, pattern: str) -> list[str]:
        """Tracepoints matching a ``category:name`` glob (``syscalls:sys_enter_open*``)."""
        return sorted(e for e in self.events if fnmatch.fnmatchcase(e, pattern))

    def format(self, tracepoint: str) -> TracepointFormat:
        """The record layout of ``category:name``; unknown names get close matches."""
        category, name = self._split(tracepoint)
        path = self.root / "events" / category / name / "format"
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise TracefsError(self._unknown(f"{category}:{name}")) from None
        except OSError as exc:
            raise TracefsError(f"{path}: {exc.strerror}") from None
        return parse_format(text, category, str(path))

    def event_id(self, tracepoint: str) -> int:
        """The perf event id of ``category:name`` (what perf_event_open's config takes)."""
        return self.format(tracepoint).id

    @property
    def trace_pipe(self) -> Path:
        """Where ``bpf_trace_printk`` output is read from."""
        return self.root / "trace_pipe"

    def tracepoint_for_function(self, function: str) -> str | None:
        """The tracepoint that reports what a probe on kernel ``function`` would see, or
        None: syscalls map to ``syscalls:sys_enter_*``, some well-known functions to their
        stable tracepoints, others to a tracepoint of the same name."""
        for prefix in _SYSCALL_PREFIXES:
            if function.startswith(prefix):
                candidate = f"syscalls:sys_enter_{function[len(prefix):]}"
                if candidate in self.events:
                    return candidate
        known = _FUNCTION_TRACEPOINTS.get(function)
        if known is not None and known in self.events:
            return known
        same_name = sorted(e for e in self.events if e.split(":", 1)[1] == function)
        return same_name[0] if same_name else None

    def _split(self, tracepoint: str) -> tuple[str, str]:
        parts = tracepoint.removeprefix("tracepoint:").split(":")
        if len(parts) != 2 or not all(parts):
            raise TracefsError(f"tracepoint {tracepoint!r}: expected CATEGORY:NAME (e.g. syscalls:sys_enter_openat)")
        if any(c in tracepoint for c in "/\\") or ".." in tracepoint:
            raise TracefsError(f"tracepoint {tracepoint!r}: names cannot hold path separators")
        return parts[0], parts[1]

    def _unknown(self, tracepoint: str) -> str:
        close = difflib.get_close_matches(tracepoint, self.events, n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"no tracepoint {tracepoint} in {self.root / 'events'}{hint}"
