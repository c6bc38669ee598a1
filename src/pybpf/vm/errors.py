"""The error of the vm engine: a program that cannot be loaded, or that did something
at run time the kernel's verifier would have ruled out (out-of-bounds memory, reading a
register never written, running too long). It names the instruction. And
:class:`TailCall`, which bpf_tail_call raises for the engine to catch."""

from __future__ import annotations

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


class VMError(PybpfError):
    """A refused or failed program; ``index`` is the instruction (slot) number, if known."""

    def __init__(self, message: str, index: int | None = None):
        self.index = index
        self.reason = message
        super().__init__(f"instruction {index}: {message}" if index is not None else message)


class TailCall(Exception):
    """Raised by bpf_tail_call to replace the running program (caught by the engine)."""

    def __init__(self, program: Any):
        super().__init__(program)
        self.program = program
