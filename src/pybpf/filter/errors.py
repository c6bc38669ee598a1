"""Filter-expression errors that point at the offending token, as a compiler would:

    tcp port 8o
             ^^
    column 10: unknown port '8o'
"""

from __future__ import annotations

from pybpf.errors import PybpfError


class FilterError(PybpfError):
    """A filter expression that cannot be compiled; ``position``/``length`` locate the
    offending text in ``expression`` (None when the whole expression is at fault)."""

    def __init__(self, reason: str, expression: str = "", position: int | None = None, length: int = 1):
        self.reason = reason
        self.expression = expression
        self.position = position
        self.length = max(1, length)
        super().__init__(self._render())

    def located(self, expression: str) -> FilterError:
        """The same error, placed in ``expression`` (raised from deep in code generation,
        which knows the token's position but not the text)."""
        return FilterError(self.reason, expression, self.position, self.length)

    def _render(self) -> str:
        if self.position is None or not self.expression:
            return self.reason
        # show the line holding the error (expressions may span lines, as in -F files)
        start = self.expression.rfind("\n", 0, self.position) + 1
        end = self.expression.find("\n", self.position)
        line = self.expression[start:] if end < 0 else self.expression[start:end]
        line_number = self.expression.count("\n", 0, self.position) + 1
        column = self.position - start + 1
        prefix = line[: column - 1].expandtabs(1)
        where = f"line {line_number}, column {column}" if "\n" in self.expression.strip("\n") else f"column {column}"
        caret = " " * len(prefix) + "^" * min(self.length, max(1, len(line) - column + 1))
        return f"{line.expandtabs(1)}\n{caret}\n{where}: {self.reason}"
