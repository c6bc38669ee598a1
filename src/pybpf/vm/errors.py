"""The error of the vm engine: a program that cannot be loaded, or that did something
at run time the kernel's verifier would have ruled out (out-of-bounds memory, reading a
register never written, running too long). It names the instruction."""

from __future__ import annotations

from pybpf.errors import PybpfError


class VMError(PybpfError):
    """A refused or failed program; ``index`` is the instruction (slot) number, if known."""

    def __init__(self, message: str, index: int | None = None):
        self.index = index
        self.reason = message
        super().__init__(f"instruction {index}: {message}" if index is not None else message)
