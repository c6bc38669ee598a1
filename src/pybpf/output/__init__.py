"""Output people would rather look at than read: histograms as bpftrace and BCC print
them (and, as they land, flame graphs and trace files for other viewers)."""

from pybpf.output.errors import OutputError
from pybpf.output.flamegraph import fold, parse_folded, svg
from pybpf.output.histogram import Histogram, HistogramError, format_map, linear_bucket, log2_bucket

__all__ = [
    "Histogram",
    "HistogramError",
    "OutputError",
    "fold",
    "format_map",
    "linear_bucket",
    "log2_bucket",
    "parse_folded",
    "svg",
]
