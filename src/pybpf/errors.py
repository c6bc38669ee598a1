"""The exception family every pybpf layer raises for bad input or a refused operation.

The CLI catches :class:`PybpfError` and prints its message as one line; anything else
escaping is a bug in pybpf, not in the user's input, and keeps its traceback.

The whole spine lives here, in a module that imports nothing of pybpf, so that the
thinnest layers (the ``bpf()`` system call wrapper) raise the same classes as the
engines without importing the object model: a refused ``bpf()`` command is a
:class:`BPFError` carrying the command and an errno whichever engine refused it (the vm
engine reports a full hash map as ``E2BIG`` on ``BPF_MAP_UPDATE_ELEM`` exactly as the
kernel does, which is what lets the differential tests compare the two).
"""

from __future__ import annotations

import errno as _errno
import os

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable


class PybpfError(Exception):
    """Bad input or a refused operation, with a message that says where and why."""


class EngineUnavailable(PybpfError):
    """The engine asked for cannot run here (no bpf() permission, vm not installed)."""


class CodecError(PybpfError):
    """A Python value that does not convert to a map's key or value bytes, or back."""


class BPFError(PybpfError):
    """A refused bpf() command: ``command`` (e.g. ``"BPF_MAP_UPDATE_ELEM"``), ``errno``.

    ``hint`` is the sentence a person can act on; the message shows all of it, e.g.
    ``BPF_MAP_UPDATE_ELEM on map 'counts': E2BIG (Argument list too long): the map is
    full (max_entries 16)``.
    """

    def __init__(self, command: str, errno: int, hint: str = "", target: str = ""):
        self.command = command
        self.errno = errno
        self.hint = hint
        self.target = target
        name = _errno.errorcode.get(errno, f"errno {errno}")
        if errno == 524:  # the kernel's internal ENOTSUPP leaks out of bpf()
            name, text = "ENOTSUPP", "Operation not supported"
        else:
            text = os.strerror(errno)
        self.errno_name = name
        where = f" on {target}" if target else ""
        tail = f": {hint}" if hint else ""
        super().__init__(f"{command}{where}: {name} ({text}){tail}")


class VerifierError(BPFError):
    """A program the verifier rejected, with its log.

    ``str()`` is a summary — the error, the last lines of the log and the instruction
    the verifier stopped at — because a whole log runs to thousands of lines;
    :attr:`log` (and :meth:`full`) has everything.
    """

    #: how many trailing log lines the summary shows
    SUMMARY_LINES = 8

    def __init__(self, command: str, errno: int, log: str, target: str = "", hint: str = "",
                 source: str = "", slot: int | None = None):
        self.log = log
        lines = [line for line in log.splitlines() if line.strip()]
        self.failing_instruction = _last_instruction(lines)
        #: the instruction slot the verifier stopped at (``slot``, or where its log says)
        self.failing_slot = slot if slot is not None else _slot_of(self.failing_instruction)
        #: what the program's debug info says about that instruction: its C source line
        #: (``source: prog.c:12:5: return x;``) and any failed CO-RE relocation
        self.source = source
        self.reason = hint
        tail = lines[-self.SUMMARY_LINES:]
        summary = hint or "the verifier rejected the program"
        if self.failing_instruction:
            summary += f" at {self.failing_instruction}"
        if source:
            summary += "\n  " + "\n  ".join(source.splitlines())
        if tail:
            summary += "\n  " + "\n  ".join(tail)
            if len(lines) > len(tail):
                summary += f"\n  ({len(lines) - len(tail)} earlier log lines: see .log)"
        super().__init__(command, errno, summary, target)

    def explained(self, explain: Callable[[int], str]) -> VerifierError:
        """This error with ``explain(failing slot)`` as its source (a program's
        :meth:`~pybpf.object.ProgramSpec.explain`); itself when there is nothing to add."""
        if self.failing_slot is None:
            return self
        source = explain(self.failing_slot)
        if not source:
            return self
        return VerifierError(self.command, self.errno, self.log, self.target, self.reason, source,
                             self.failing_slot)

    def full(self) -> str:
        """The message followed by the whole verifier log."""
        return f"{self.args[0]}\n--- verifier log ---\n{self.log}"


def _slot_of(instruction: str) -> int | None:
    """The slot number of an ``instruction N: ...`` text."""
    head = instruction.removeprefix("instruction ").split(":", 1)[0]
    return int(head) if head.isdigit() else None


def _last_instruction(lines: list[str]) -> str:
    """The last ``N: (opcode) text`` line of a verifier log: where it stopped."""
    for line in reversed(lines):
        head, sep, rest = line.partition(": (")
        if sep and head.strip().isdigit():
            return f"instruction {head.strip()}: ({rest}"
    return ""
