"""The output layer's error: input it cannot render (bad folded text, impossible bins)."""

from __future__ import annotations

from pybpf.errors import PybpfError


class OutputError(PybpfError):
    """Data the output layer cannot render, with where and why."""
