"""Output people would rather look at than read: histograms as bpftrace and BCC print
them (and, as they land, flame graphs and trace files for other viewers)."""

from pybpf.output.histogram import Histogram, HistogramError, format_map, linear_bucket, log2_bucket

__all__ = ["Histogram", "HistogramError", "format_map", "linear_bucket", "log2_bucket"]
