"""The one attachment type: what attaching a program returns, whatever the hook.

A tracepoint or perf event, an XDP or tc hook, a cgroup, a socket filter, an iterator,
every site of a USDT probe — each engine-specific attachment subclasses :class:`Link`,
so a caller holds any of them the same way: ``with prog.attach(...):`` or
``link.close()`` to detach, ``link.detach()`` to stop now while keeping the object,
``link.pin(path)`` where the hook is a BPF link the kernel can pin.
"""

from __future__ import annotations

import errno

from pybpf.errors import BPFError
from pybpf.resource import Resource


class Link(Resource):
    """An attached program; closing it detaches the program."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._closed = False

    def detach(self) -> None:
        """Stop the program from running at the hook now. Where the hook has no separate
        detach (socket filters, perf-event groups), this is :meth:`close`."""
        self.close()

    def pin(self, path: str) -> None:
        """Pin the attachment so it outlives this process (BPF links only)."""
        raise BPFError("BPF_OBJ_PIN", errno.EINVAL,
                       f"{self.description} is not a single BPF link, so it cannot be pinned", path)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self.description}{state}>"
