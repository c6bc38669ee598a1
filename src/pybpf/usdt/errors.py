"""The error USDT parsing raises: names the binary, the probe and what was wrong."""

from __future__ import annotations

from pybpf.errors import PybpfError


class UsdtError(PybpfError):
    """A USDT note or argument spec that cannot be used."""
