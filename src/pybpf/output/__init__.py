"""Output people would rather look at than read: histograms as bpftrace and BCC print
them, flame graphs (folded, interactive SVG, differential, speedscope) and trace files
for other viewers (CTF for babeltrace2 and Trace Compass, Chrome trace-event JSON)."""

from pybpf.output.chrome import ChromeTrace
from pybpf.output.ctf import CtfWriter
from pybpf.output.errors import OutputError
from pybpf.output.flamegraph import diff_svg, fold, parse_folded, speedscope, svg
from pybpf.output.histogram import (
    Histogram,
    HistogramError,
    format_map,
    linear_bucket,
    log2_bucket,
)

__all__ = [
    "ChromeTrace",
    "CtfWriter",
    "Histogram",
    "HistogramError",
    "OutputError",
    "diff_svg",
    "fold",
    "format_map",
    "linear_bucket",
    "log2_bucket",
    "parse_folded",
    "speedscope",
    "svg",
]
