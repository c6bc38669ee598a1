"""The error the tracefs layer raises: names the file or tracepoint and why."""

from __future__ import annotations

from pybpf.errors import PybpfError


class TracefsError(PybpfError):
    """tracefs is missing, a tracepoint does not exist, or a format/record is malformed."""
