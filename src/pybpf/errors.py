"""The one exception family every pybpf layer raises for bad input.

The CLI catches :class:`PybpfError` and prints its message as one line; anything else
escaping is a bug in pybpf, not in the user's input, and keeps its traceback.
"""

from __future__ import annotations


class PybpfError(Exception):
    """Bad input or a refused operation, with a message that says where and why."""
