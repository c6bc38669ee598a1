"""A C tokenizer just deep enough to rewrite BCC's dialect: identifiers, numbers,
string and character literals, comments, preprocessor lines and punctuation, each with
its place in the text, so a rewrite replaces exact spans and keeps everything else.

Rewriting on tokens (not regular expressions over text) means a ``.lookup(`` inside a
string or comment is left alone and nested calls are found by matching brackets.
"""

from __future__ import annotations

import re

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


class BccSyntaxError(PybpfError):
    """The BCC program text cannot be rewritten: where (line:column) and why."""


@dataclass(frozen=True)
class Token:
    kind: str      # "id", "num", "str", "char", "pp", "punct"
    text: str
    start: int
    end: int


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)
  | (?P<punct>->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!=<>]=|\.\.\.|\#\#|[^\s])
""", re.VERBOSE | re.DOTALL)


_LINE_MARKER = re.compile(r'^#(?:line)? *(\d+) "[^"\n]*"[^\n]*\n', re.MULTILINE)


def where(text: str, offset: int) -> str:
    """``line:column`` (1-based) of ``offset`` in ``text``, counting lines from the last
    preprocessor line marker (``# 40 "file"``) before it, so positions in preprocessed
    text name the program's own lines."""
    line = text.count("\n", 0, offset) + 1
    for marker in _LINE_MARKER.finditer(text, 0, offset):
        line = int(marker.group(1)) + text.count("\n", marker.end(), offset)
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; a preprocessor directive (with its continuation lines) is
    one ``pp`` token."""
    tokens: list[Token] = []
    pos, n = 0, len(text)
    at_line_start = True
    while pos < n:
        if at_line_start:
            match = re.compile(r"[ \t]*#(?:\\\n|[^\n])*").match(text, pos)
            if match:
                tokens.append(Token("pp", match.group().strip(), pos, match.end()))
                pos = match.end()
                continue
        match = _TOKEN.match(text, pos)
        if match is None:  # an unterminated literal or comment
            raise BccSyntaxError(f"{where(text, pos)}: unterminated literal or comment")
        kind = match.lastgroup or "punct"
        if kind == "ws":
            at_line_start = "\n" in match.group() or at_line_start
        elif kind == "comment":
            pass
        else:
            at_line_start = False
            tokens.append(Token(kind, match.group(), pos, match.end()))
        pos = match.end()
    return tokens


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def matching(tokens: list[Token], index: int, text: str) -> int:
    """Index of the bracket closing the one at ``index``."""
    stack = []
    for i in range(index, len(tokens)):
        t = tokens[i].text
        if tokens[i].kind != "punct":
            continue
        if t in _PAIRS:
            stack.append(_PAIRS[t])
        elif t in (")", "]", "}"):
            if not stack or stack.pop() != t:
                raise BccSyntaxError(f"{where(text, tokens[i].start)}: unbalanced {t!r}")
            if not stack:
                return i
    raise BccSyntaxError(f"{where(text, tokens[index].start)}: {tokens[index].text!r} is never closed")


def split_arguments(tokens: list[Token], open_index: int, close_index: int) -> list[tuple[int, int]]:
    """(first, last+1) token index ranges of the comma-separated arguments between the
    brackets at ``open_index`` and ``close_index``."""
    parts: list[tuple[int, int]] = []
    depth, start = 0, open_index + 1
    for i in range(open_index + 1, close_index):
        t = tokens[i]
        if t.kind != "punct":
            continue
        if t.text in _PAIRS:
            depth += 1
        elif t.text in (")", "]", "}"):
            depth -= 1
        elif t.text == "," and depth == 0:
            parts.append((start, i))
            start = i + 1
    if start < close_index or parts:
        parts.append((start, close_index))
    return parts
