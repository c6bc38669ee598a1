"""The one owner base class: everything pybpf hands out that holds a file descriptor,
a mapping or a kernel object (maps, programs, links, event readers) is closed the same way.

``close()`` is idempotent and calls the subclass's ``_close()`` once; ``with`` closes at
the end of the block; ``__del__`` closes what a caller forgot (a dropped object must not
keep a program attached or an fd open), and never raises from the garbage collector.
"""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Self


class Resource:
    """Something to close exactly once. Subclasses implement :meth:`_close`."""

    _closed: bool = False
    #: False for a container whose members close themselves when collected: dropping
    #: the container must not close members the caller still holds
    close_when_collected = True

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def close(self) -> None:
        """Release what this object holds (idempotent)."""
        if not self._closed:
            self._closed = True
            self._close()

    def _close(self) -> None:
        """Release the resource (called once, by :meth:`close`)."""
        raise NotImplementedError(f"{type(self).__name__} must define _close()")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # only objects whose __init__ finished have _closed set on the instance
        if self.close_when_collected and "_closed" in vars(self) and not self._closed:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - the garbage collector has no caller to tell
                pass
