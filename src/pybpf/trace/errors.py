"""Errors of the trace language, located as bpftrace locates them:

    stdin:1:14-17: ERROR: unknown builtin 'pidd'
    BEGIN { print(pidd); }
                  ~~~~

:class:`TraceError` is the family; :class:`TraceSyntaxError` comes from the parser and the
checker (a place in the program text), :class:`TraceRuntimeError` from loading and
attaching (the kernel's refusals, with what to use instead).
"""

from __future__ import annotations

from pybpf.errors import PybpfError


class TraceError(PybpfError):
    """Anything wrong with a trace program or its run."""


class TraceSyntaxError(TraceError):
    """A program that cannot be compiled; ``position``/``length`` locate the text at fault."""

    def __init__(self, reason: str, source: str = "", position: int | None = None, length: int = 1,
                 filename: str = "stdin"):
        self.reason = reason
        self.source = source
        self.position = position
        self.length = max(1, length)
        self.filename = filename
        super().__init__(self._render())

    def located(self, source: str, filename: str) -> TraceSyntaxError:
        """The same error placed in ``source`` (raised where only the position was known)."""
        return TraceSyntaxError(self.reason, source, self.position, self.length, filename)

    @property
    def line_column(self) -> tuple[int, int]:
        """1-based line and column of the error (0, 0 when unplaced)."""
        return line_column(self.source, self.position)

    def _render(self) -> str:
        return placed("ERROR", self.reason, self.source, self.position, self.length, self.filename)


def line_column(source: str, position: int | None) -> tuple[int, int]:
    """1-based line and column of ``position`` in ``source`` (0, 0 when unplaced)."""
    if position is None or not source:
        return 0, 0
    start = source.rfind("\n", 0, position) + 1
    return source.count("\n", 0, position) + 1, position - start + 1


def placed(severity: str, reason: str, source: str, position: int | None, length: int = 1,
            filename: str = "stdin") -> str:
    """A message placed in the program text as bpftrace places its errors and warnings:
    ``FILE:LINE:COLUMNS: SEVERITY: reason``, the line, and ``~`` under the span."""
    if position is None or not source:
        return f"{filename}: {severity}: {reason}"
    line_number, column = line_column(source, position)
    start = position - column + 1
    end = source.find("\n", position)
    line = source[start:] if end < 0 else source[start:end]
    width = max(1, min(max(1, length), len(line) - column + 1))
    caret = "".join(c if c == "\t" else " " for c in line[:column - 1]) + "~" * width
    return f"{filename}:{line_number}:{column}-{column + width}: {severity}: {reason}\n{line}\n{caret}"


class DefinitionError(TraceSyntaxError):
    """A struct definition of the program that cannot be laid out; ``declaration`` is the
    member at fault. Reported as bpftrace reports it (its definitions go through clang as
    a file ``definitions.h`` whose first line includes the kernel's types):
    ``definitions.h:2:41: error: field has incomplete type 'struct thread_info'``."""

    def __init__(self, reason: str, declaration: str = "", source: str = "", position: int | None = None,
                 filename: str = "stdin"):
        self.declaration = declaration
        super().__init__(reason, source, position, 1, filename)

    def located(self, source: str, filename: str) -> DefinitionError:
        import re  # here: a located error is rare, and re is ~1.5 ms of a start-up

        words = self.declaration.split()
        found = re.search(r"\s+".join(map(re.escape, words)), source) if words else None
        position = found.start() + found.group().rindex(words[-1]) if found else None
        return DefinitionError(self.reason, self.declaration, source, position, filename)

    def _render(self) -> str:
        line, column = line_column(self.source, self.position)
        first, _ = line_column(self.source, len(self.source) - len(self.source.lstrip()))  # where definitions start
        return f"definitions.h:{line - first + 2}:{column}: error: {self.reason}" if line else \
            f"definitions.h: error: {self.reason}"


class TraceRuntimeError(TraceError):
    """A program the kernel would not load or attach, with the reason."""
