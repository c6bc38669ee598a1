"""tracefs: tracepoints, their record formats, and trace_pipe.

Both engines and the trace language need tracepoint layouts (the kernel to attach and
decode, the vm to build synthetic records, the compiler to resolve ``args->field``), so
this is a package of its own rather than part of ``pybpf.kernel``.
"""

from pybpf.tracefs.catalog import Tracefs
from pybpf.tracefs.errors import TracefsError
from pybpf.tracefs.format import Field, TracepointFormat, parse_format
from pybpf.tracefs.mount import find_tracefs
from pybpf.tracefs.trace_pipe import TraceLine, TracePipe, parse_trace_line

__all__ = [
    "Field", "TraceLine", "TracePipe", "TracepointFormat", "Tracefs", "TracefsError", "find_tracefs",
    "parse_format", "parse_trace_line",
]
